#!/usr/bin/env bash
# Installs Debian's nginx for the TLS tests (client-js/test/browser/tls.test.mjs,
# proxy-protocol.test.mjs) when it is missing. The test runs its own nginx on private ports with its
# own configuration and prefix; the package's own service is kept from
# starting (policy-rc.d) so installing opens no port. Idempotent and
# non-interactive; uses sudo only when not already root.
set -euo pipefail
# The stream module (libnginx-mod-stream) is for the PROXY protocol test
# of deploy/nginx-stream.conf (client-js/test/browser/proxy-protocol.test.mjs).
if [ -x /usr/sbin/nginx ] && [ -e /usr/lib/nginx/modules/ngx_stream_module.so ]; then
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
echo "installing nginx and its stream module from apt" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx-light libnginx-mod-stream
/usr/sbin/nginx -v >&2
