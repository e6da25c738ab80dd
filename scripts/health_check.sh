#!/usr/bin/env bash
# Health check of every py_rt service (see `pyrt health --help`); exit 1 if one is unhealthy.
# Usage: ./scripts/health_check.sh [--json] [--config-dir DIR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -x .venv/bin/pyrt ]]; then
  exec .venv/bin/pyrt health "$@"
fi
exec pyrt health "$@"
