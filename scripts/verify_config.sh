#!/usr/bin/env bash
# Thin wrapper of `pyrt verify-config` (see `pyrt verify-config --help`); arguments are passed through.
# Usage: ./scripts/verify_config.sh [--config-dir DIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_pyrt.sh"
pyrt_args "$@"
pyrt_cd
exec "$PYRT" verify-config "${PYRT_ARGS[@]+"${PYRT_ARGS[@]}"}"
