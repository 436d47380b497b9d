#!/usr/bin/env bash
# Installs Debian's redis-server when it is missing. The cluster tests
# (internal/redistest) and scripts/cluster start their own servers from the
# binary on private ports and temporary directories; the package's own
# service is stopped and disabled so nothing listens on 6379 because of us.
# Idempotent and non-interactive; uses sudo only when not root.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1 || { [ -n "${TICKROOM_REDIS_SERVER:-}" ] && [ -x "$TICKROOM_REDIS_SERVER" ]; }; then
  exit 0
fi
SUDO=
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
fi
echo "installing redis-server from apt" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends redis-server
# The tests start their own servers; the system one is not needed.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true
else
  $SUDO service redis-server stop >/dev/null 2>&1 || true
fi
command -v redis-server >&2
