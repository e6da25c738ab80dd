#!/usr/bin/env bash
# Thin wrapper of `pyrt verify-data` (see `pyrt verify-data --help`); arguments are passed through.
# Usage: ./scripts/verify_data_integrity.sh [--backup ARCHIVE] [--config-dir DIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_pyrt.sh"
pyrt_args "$@"
pyrt_cd
exec "$PYRT" verify-data "${PYRT_ARGS[@]+"${PYRT_ARGS[@]}"}"
