#!/usr/bin/env bash
# Start the whole system in the background (`pyrt up --detach`), then print its health
# (`pyrt health`). --safe-mode starts with automatic trading off (strategies compute
# signals, send no orders) until POST /api/v1/trading/enable or `pyrt trading enable`.
# Exit: the code of `pyrt up` if it failed, else the code of `pyrt health`, except that its
# 4 (alive, but trading blocked: a breaker still active, a halted engine; printed with the
# reason and the next command) is 0 here: the start itself succeeded. health_check.sh is
# the strict check.
# Usage: ./scripts/start_trading_system.sh [--safe-mode] [--config-dir DIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_pyrt.sh"
pyrt_args "$@"
pyrt_cd
"$PYRT" up --detach "${PYRT_ARGS[@]+"${PYRT_ARGS[@]}"}"
rc=0
"$PYRT" health "${PYRT_CONFIG_ARGS[@]+"${PYRT_CONFIG_ARGS[@]}"}" || rc=$?
if [[ $rc -eq 4 ]]; then exit 0; fi
exit "$rc"
