#!/usr/bin/env bash
# Installs Debian's nginx for the TLS test (client-js/test/browser/tls.test.mjs)
# when it is missing. The test runs its own nginx on private ports with its
# own configuration and prefix; the package's own service is kept from
# starting (policy-rc.d) so installing opens no port. Idempotent and
# non-interactive; uses sudo only when not already root.
set -euo pipefail
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
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
echo "installing nginx from apt" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx-light
/usr/sbin/nginx -v >&2
