#!/usr/bin/env bash
# Thin wrapper of `pyrt verify-data` (see `pyrt verify-data --help`); arguments are passed through.
# Usage: ./scripts/verify_data_integrity.sh [--backup ARCHIVE] [--config-dir DIR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -x .venv/bin/pyrt ]]; then PYRT=.venv/bin/pyrt; else PYRT=pyrt; fi
exec "$PYRT" verify-data "$@"
