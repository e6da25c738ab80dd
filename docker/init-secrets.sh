#!/usr/bin/env bash
# Create the docker secrets docker-compose.yml needs, once, without overwriting:
#   docker/secrets/grafana_admin_password   random Grafana admin password
#
#   bash docker/init-secrets.sh
#
# The folder is private (0700); the file itself is 0644 because it is bind-mounted into the
# Grafana container, which runs as its own user (uid 472) and must read it. Grafana applies
# the password when it first creates its database (the grafana_data volume); to change it
# later: docker exec -it trading_grafana grafana cli admin reset-admin-password NEWPASS
set -euo pipefail
dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/secrets
mkdir -p "$dir"
chmod 0700 "$dir"
file=$dir/grafana_admin_password
if [ -s "$file" ]; then
    echo "init-secrets: $file exists, kept"
else
    (umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(24))' > "$file")
    chmod 0644 "$file"
    echo "init-secrets: wrote $file (user admin; read it with: cat $file)"
fi
