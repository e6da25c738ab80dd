#!/usr/bin/env bash
# Thin wrapper of `pyrt backup` (see `pyrt backup --help`); arguments are passed through.
# Usage: ./scripts/backup_system.sh [--dest DIR] [--keep N] [--config-dir DIR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -x .venv/bin/pyrt ]]; then PYRT=.venv/bin/pyrt; else PYRT=pyrt; fi
exec "$PYRT" backup "$@"
