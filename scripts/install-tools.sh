#!/usr/bin/env bash
# Installs the pinned code-generation tools into .tools/bin (git-ignored).
# Idempotent: a tool already at the pinned version is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$PWD/.tools/bin"
mkdir -p "$BIN"

BUF_VERSION=v1.75.0
PROTOBUF_VERSION=v1.36.10
VTPROTO_VERSION=v0.6.0

install() { # name module version
  local stamp="$BIN/.$1-$3"
  if [ -x "$BIN/$1" ] && [ -f "$stamp" ]; then return; fi
  echo "installing $1 $3" >&2
  GOBIN="$BIN" go install "$2@$3"
  touch "$stamp"
}

install buf github.com/bufbuild/buf/cmd/buf "$BUF_VERSION"
install protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOBUF_VERSION"
install protoc-gen-go-vtproto github.com/planetscale/vtprotobuf/cmd/protoc-gen-go-vtproto "$VTPROTO_VERSION"
