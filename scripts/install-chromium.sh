#!/usr/bin/env bash
# Installs Debian's chromium for client-js's browser tests when it is missing.
# The tests drive it through playwright-core with executablePath
# /usr/bin/chromium; no browser is ever downloaded by npm or playwright.
# Idempotent and non-interactive; uses sudo only when not already root.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
SUDO=
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
fi
echo "installing chromium from apt" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-liberation
/usr/bin/chromium --version >&2
