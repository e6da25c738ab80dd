#!/usr/bin/env bash
# Emergency stop (kill switch), a thin wrapper of `pyrt emergency-stop` (see its --help):
#   1. activate the circuit breaker (and halt execution, automatic trading off)
#   2. cancel all open orders and wait until the broker confirms zero
#   3. stop the four trading services (the control API and the venue stay up)
#   4. send the alert notifications
# Each step is printed with its duration; exit 0 only if zero open orders are confirmed.
# Usage: ./scripts/emergency_stop.sh [--reason TEXT] [--keep-services] [--config-dir DIR]
set -euo pipefail
orig="$PWD"
abs_path() { if [[ "$1" = /* ]]; then printf '%s' "$1"; else printf '%s/%s' "$orig" "$1"; fi; }
args=()  # the arguments, a relative --config-dir made absolute (it is relative to the caller)
while [[ $# -gt 0 ]]; do
  case "$1" in
    --config-dir)
      if [[ $# -gt 1 ]]; then args+=(--config-dir "$(abs_path "$2")"); shift; else args+=("$1"); fi
      shift ;;
    --config-dir=*) args+=(--config-dir "$(abs_path "${1#*=}")"); shift ;;
    *) args+=("$1"); shift ;;
  esac
done
if [[ -n "${PYRT_CONFIG_DIR:-}" ]]; then PYRT_CONFIG_DIR="$(abs_path "$PYRT_CONFIG_DIR")"; export PYRT_CONFIG_DIR; fi
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -x .venv/bin/pyrt ]]; then PYRT=.venv/bin/pyrt; else PYRT=pyrt; fi
exec "$PYRT" emergency-stop "${args[@]+"${args[@]}"}"
