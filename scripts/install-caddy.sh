#!/usr/bin/env bash
# Installs Debian's caddy for the Caddy test (client-js/test/browser/caddy.test.mjs)
# when it is missing. The test runs its own caddy on private ports with the
# shipped deploy/Caddyfile and its own data and config folders; the
# package's own service is kept from starting (policy-rc.d) so installing
# opens no port. Idempotent and non-interactive; uses sudo only when not
# already root.
set -euo pipefail
if command -v caddy >/dev/null 2>&1 || [ -x /usr/bin/caddy ]; then
  exit 0
fi
SUDO=
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
fi
policy=/usr/sbin/policy-rc.d
added_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod +x "$policy"
  added_policy=1
fi
cleanup() { if [ -n "$added_policy" ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT
echo "installing caddy from apt" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends caddy
/usr/bin/caddy version >&2
