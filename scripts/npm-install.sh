#!/usr/bin/env bash
# Installs client-js's npm packages (protoc-gen-es among them) from its lock file.
set -euo pipefail
cd "$(dirname "$0")/../client-js"
if [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then exit 0; fi
npm ci --no-audit --no-fund
