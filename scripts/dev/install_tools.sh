#!/usr/bin/env bash
# Installs the Debian packages the deployment tests (tests/integration/deploy) need:
#
#   promtool         <- package "prometheus"  (checks and unit-tests monitoring/prometheus/*)
#   amtool           <- package "prometheus-alertmanager" (checks monitoring/alertmanager/*)
#   logrotate        <- package "logrotate"   (dry-runs deploy/logrotate/trading-system)
#   systemd-analyze  <- package "systemd"     (verifies the units in deploy/systemd/)
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

if [ ${#missing_pkgs[@]} -eq 0 ]; then
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

export DEBIAN_FRONTEND=noninteractive
echo "install_tools: apt-get update"
"${SUDO[@]}" apt-get update -qq
echo "install_tools: apt-get install ${missing_pkgs[*]}"
# --no-install-recommends: "prometheus" would otherwise pull prometheus-node-exporter.
# The packages also ship daemons; on a machine without a running systemd their start is
# skipped, and only the command-line tools are used by the tests.
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing_pkgs[@]}" >/dev/null

for pair in "${TOOLS[@]}"; do
  tool=${pair%%:*}
  if ! have "$tool"; then
    echo "install_tools: $tool still missing after installing ${missing_pkgs[*]}" >&2
    exit 1
  fi
done
echo "install_tools: installed ${missing_pkgs[*]}"
