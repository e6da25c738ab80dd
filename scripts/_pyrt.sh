# Sourced by the guide's bash scripts: one place for what they share.
#   pyrt_args "$@"   -> PYRT_ARGS: the arguments with a relative --config-dir made absolute
#                       (it is relative to the caller's directory); PYRT_CONFIG_ARGS: just
#                       the --config-dir pair; PYRT_CONFIG_DIR made absolute too
#   pyrt_cd          -> cd to the repository root and set PYRT to .venv/bin/pyrt (or pyrt)
_pyrt_orig="$PWD"
_pyrt_abs() { if [[ "$1" = /* ]]; then printf '%s' "$1"; else printf '%s/%s' "$_pyrt_orig" "$1"; fi; }

pyrt_args() {
  PYRT_ARGS=()
  PYRT_CONFIG_ARGS=()
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --config-dir)
        if [[ $# -gt 1 ]]; then
          PYRT_ARGS+=(--config-dir "$(_pyrt_abs "$2")"); PYRT_CONFIG_ARGS=(--config-dir "$(_pyrt_abs "$2")"); shift
        else
          PYRT_ARGS+=("$1")
        fi
        shift ;;
      --config-dir=*)
        PYRT_ARGS+=(--config-dir "$(_pyrt_abs "${1#*=}")"); PYRT_CONFIG_ARGS=(--config-dir "$(_pyrt_abs "${1#*=}")")
        shift ;;
      *) PYRT_ARGS+=("$1"); shift ;;
    esac
  done
  if [[ -n "${PYRT_CONFIG_DIR:-}" ]]; then PYRT_CONFIG_DIR="$(_pyrt_abs "$PYRT_CONFIG_DIR")"; export PYRT_CONFIG_DIR; fi
}

pyrt_cd() {
  cd "$(dirname "${BASH_SOURCE[1]}")/.."
  if [[ -x .venv/bin/pyrt ]]; then PYRT=.venv/bin/pyrt; else PYRT=pyrt; fi
}
