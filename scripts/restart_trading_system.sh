#!/usr/bin/env bash
# Full restart: `pyrt down`, then `pyrt up --detach` (--safe-mode is passed on to the start)
# and the health report, as start_trading_system.sh does.
# Usage: ./scripts/restart_trading_system.sh [--safe-mode] [--config-dir DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
config=()
for ((i = 1; i <= $#; i++)); do
  case "${!i}" in
    --config-dir) j=$((i + 1)); config=(--config-dir "${!j}") ;;
    --config-dir=*) config=("${!i}") ;;
  esac
done
"$here/stop_trading_system.sh" "${config[@]+"${config[@]}"}"
exec "$here/start_trading_system.sh" "$@"
