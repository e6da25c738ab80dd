#!/usr/bin/env bash
# Render and install the py_rt systemd units (and the logrotate config) for one install root.
#
#   sudo deploy/systemd/install.sh --root /opt/RustAlgorithmTrading --user trading
#
# Options:
#   --root DIR            install root: holds .venv/, config/, deploy/, logs/ ... (absolute;
#                         default /opt/RustAlgorithmTrading)
#   --user USER           account the services run as (default trading; create it first:
#                         sudo useradd --system --home-dir DIR --shell /usr/sbin/nologin trading)
#   --group GROUP         its group (default: same as USER)
#   --dest DIR            where the units go (default /etc/systemd/system)
#   --logrotate-dest DIR  where logrotate's trading-system goes (default /etc/logrotate.d)
#   --no-logrotate        do not install the logrotate config
#   --no-dirs             do not create ROOT/{logs,data,cache,run,backups}
#
# The templates in deploy/systemd/templates/*.in and deploy/logrotate/trading-system.in
# hold three placeholders: @ROOT@, @USER@ and @GROUP@; this script only substitutes them.
# The files next to this script are the same templates rendered for the defaults, ready to
# copy as they are. After installing into /etc/systemd/system on a running systemd it runs
# `systemctl daemon-reload`; it never starts or enables anything.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEPLOY=$(dirname "$HERE")

root=/opt/RustAlgorithmTrading
user=trading
group=
dest=/etc/systemd/system
logrotate_dest=/etc/logrotate.d
with_logrotate=1
with_dirs=1

usage() { sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "install.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case $1 in
        --root) root=${2:?--root needs a directory}; shift 2 ;;
        --user) user=${2:?--user needs a name}; shift 2 ;;
        --group) group=${2:?--group needs a name}; shift 2 ;;
        --dest) dest=${2:?--dest needs a directory}; shift 2 ;;
        --logrotate-dest) logrotate_dest=${2:?--logrotate-dest needs a directory}; shift 2 ;;
        --no-logrotate) with_logrotate=0; shift ;;
        --no-dirs) with_dirs=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
group=${group:-$user}

# Values go into unit files unquoted and through sed: allow only plain path/name characters.
[[ $root == /* ]] || die "--root must be an absolute path: $root"
[[ $root =~ ^/[A-Za-z0-9._/+_-]*$ ]] || die "--root may contain only letters, digits and ._/+-_ : $root"
root=${root%/}
[ -n "$root" ] || die "--root must not be /"
for name in "$user" "$group"; do
    [[ $name =~ ^[A-Za-z_][A-Za-z0-9_-]*$ ]] || die "invalid user or group name: $name"
done

render() {  # render TEMPLATE OUTPUT
    sed -e "s|@ROOT@|$root|g" -e "s|@USER@|$user|g" -e "s|@GROUP@|$group|g" "$1" > "$2.tmp"
    if grep -q '@[A-Z]*@' "$2.tmp"; then
        rm -f "$2.tmp"
        die "unrendered placeholder left in $2"
    fi
    chmod 0644 "$2.tmp"
    mv "$2.tmp" "$2"
    echo "  wrote $2"
}

echo "Rendering py_rt units for root=$root user=$user group=$group"
mkdir -p "$dest"
for template in "$HERE"/templates/*.in; do
    name=$(basename "$template" .in)
    render "$template" "$dest/$name"
done
if [ "$with_logrotate" = 1 ]; then
    mkdir -p "$logrotate_dest"
    render "$DEPLOY/logrotate/trading-system.in" "$logrotate_dest/trading-system"
fi

if [ "$with_dirs" = 1 ]; then
    for d in logs data cache run backups; do
        mkdir -p "$root/$d"
        if [ "$(id -u)" -eq 0 ] && id "$user" >/dev/null 2>&1; then
            chown "$user:$group" "$root/$d"
            chmod 0750 "$root/$d"
        fi
    done
    echo "  state directories: $root/{logs,data,cache,run,backups}"
    if ! id "$user" >/dev/null 2>&1; then
        echo "  NOTE: user $user does not exist yet; create it, then chown $user:$group those directories"
    fi
fi

if [ "$dest" = /etc/systemd/system ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    echo "  systemctl daemon-reload done"
fi

cat <<MSG
Next steps:
  sudo systemctl start trading-sim-broker   # only for paper demos on the simulated broker
  sudo systemctl start trading.target       # or one by one: trading-market-data, -risk-manager, ...
  sudo systemctl enable trading.target      # start at boot
MSG
