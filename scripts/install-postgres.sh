#!/usr/bin/env bash
# Installs Debian's postgresql when its server binaries are missing. The Go
# tests (internal/pgtest) start their own server from them: initdb and
# pg_ctl on a private port and temporary data directory, never the system
# cluster. Idempotent and non-interactive; uses sudo only when not root.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { [ -n "${TICKROOM_PG_BIN:-}" ] && [ -x "$TICKROOM_PG_BIN/initdb" ]; }; then
  exit 0
fi
SUDO=
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
fi
echo "installing postgresql from apt" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
# The package's own cluster is not needed; the tests make theirs.
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql
ls /usr/lib/postgresql/*/bin/initdb >&2
