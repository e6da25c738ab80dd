#!/usr/bin/env bash
# Start the whole system in the background (`pyrt up --detach`), then print its health
# (`pyrt health`). --safe-mode starts with automatic trading off (strategies compute
# signals, send no orders) until POST /api/v1/trading/enable or `pyrt trading enable`.
# Exit: the code of `pyrt up` if it failed, else the code of `pyrt health`.
# Usage: ./scripts/start_trading_system.sh [--safe-mode] [--config-dir DIR]
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
config=()
for ((i = 0; i < ${#args[@]}; i++)); do
  if [[ "${args[i]}" == --config-dir ]]; then config=(--config-dir "${args[i + 1]-}"); fi
done
"$PYRT" up --detach "${args[@]+"${args[@]}"}"
exec "$PYRT" health "${config[@]+"${config[@]}"}"
