#!/usr/bin/env bash
# Installs the npm packages of every folder with a package-lock.json that the
# project drives from make (client-js, the transport's Node interop tests),
# each from its lock file. A folder whose node_modules is newer than its lock
# file is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
for dir in client-js server/interop; do
  [ -f "$dir/package-lock.json" ] || continue
  if [ -f "$dir/node_modules/.package-lock.json" ] && [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
    continue
  fi
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
done
