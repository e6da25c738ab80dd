#!/usr/bin/env bash
# Thin wrapper of `pyrt restore` (see `pyrt restore --help`); arguments are passed through.
# Usage: ./scripts/restore_from_backup.sh --date YYYY-MM-DD [--time HH:MM] [--tz ZONE] [--list] [--yes] [--config-dir DIR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -x .venv/bin/pyrt ]]; then PYRT=.venv/bin/pyrt; else PYRT=pyrt; fi
exec "$PYRT" restore "$@"
