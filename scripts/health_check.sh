#!/usr/bin/env bash
# Health check of every py_rt service (see `pyrt health --help`); exit 1 if one is unhealthy, 4 if trading is blocked (halted, breaker, degraded).
# Usage: ./scripts/health_check.sh [--json] [--config-dir DIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_pyrt.sh"
pyrt_args "$@"
pyrt_cd
exec "$PYRT" health "${PYRT_ARGS[@]+"${PYRT_ARGS[@]}"}"
