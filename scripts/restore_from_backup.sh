#!/usr/bin/env bash
# Thin wrapper of `pyrt restore` (see `pyrt restore --help`); arguments are passed through.
# Usage: ./scripts/restore_from_backup.sh --date YYYY-MM-DD [--time HH:MM] [--tz ZONE] [--list] [--yes] [--config-dir DIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_pyrt.sh"
pyrt_args "$@"
pyrt_cd
exec "$PYRT" restore "${PYRT_ARGS[@]+"${PYRT_ARGS[@]}"}"
