#!/usr/bin/env bash
# Emergency stop (kill switch), a thin wrapper of `pyrt emergency-stop` (see its --help):
#   1. activate the circuit breaker (and halt execution, automatic trading off)
#   2. cancel all open orders and wait until the broker confirms zero
#   3. stop the four trading services (the control API and the venue stay up)
#   4. send the alert notifications
# Each step is printed with its duration; exit 0 only if zero open orders are confirmed.
# Usage: ./scripts/emergency_stop.sh [--reason TEXT] [--keep-services] [--config-dir DIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_pyrt.sh"
pyrt_args "$@"
pyrt_cd
exec "$PYRT" emergency-stop "${PYRT_ARGS[@]+"${PYRT_ARGS[@]}"}"
