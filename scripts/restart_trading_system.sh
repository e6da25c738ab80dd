#!/usr/bin/env bash
# Full restart: `pyrt down`, then `pyrt up --detach` (--safe-mode is passed on to the start)
# and the health report, as start_trading_system.sh does.
# Usage: ./scripts/restart_trading_system.sh [--safe-mode] [--config-dir DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/_pyrt.sh"
pyrt_args "$@"
"$here/stop_trading_system.sh" "${PYRT_CONFIG_ARGS[@]+"${PYRT_CONFIG_ARGS[@]}"}"
exec "$here/start_trading_system.sh" "${PYRT_ARGS[@]+"${PYRT_ARGS[@]}"}"
