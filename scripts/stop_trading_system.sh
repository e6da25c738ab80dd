#!/usr/bin/env bash
# Stop the whole system in reverse start order (graceful: SIGTERM, drain, SIGKILL after the
# grace), a thin wrapper of `pyrt down` (see its --help).
# Usage: ./scripts/stop_trading_system.sh [--grace SECONDS] [--config-dir DIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_pyrt.sh"
pyrt_args "$@"
pyrt_cd
exec "$PYRT" down "${PYRT_ARGS[@]+"${PYRT_ARGS[@]}"}"
