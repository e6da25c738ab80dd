#!/usr/bin/env bash
# Thin wrapper of `pyrt backup` (see `pyrt backup --help`); arguments are passed through.
# Usage: ./scripts/backup_system.sh [--dest DIR] [--keep N] [--config-dir DIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_pyrt.sh"
pyrt_args "$@"
pyrt_cd
exec "$PYRT" backup "${PYRT_ARGS[@]+"${PYRT_ARGS[@]}"}"
