#!/usr/bin/env bash
# Fails when buf lint fails or the committed generated code is stale: the
# protobuf code (Go and TypeScript) and the code tables generated from
# codes.proto and the field limits (protocol/codes_table.pb.go, protocol/codes.md,
# protocol/limits_table.pb.go, protocol/limits.md, client-js/src/gen/limits_table.ts,
# client-js/src/gen/codes_table.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
BUF=.tools/bin/buf
$BUF lint
# Once a release exists, the schema may only change compatibly with it.
if tag=$(git describe --tags --match 'v*' --abbrev=0 2>/dev/null); then
  echo "buf breaking against $tag"
  $BUF breaking --against ".git#tag=$tag"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Generate into a scratch tree: every plugin's out: is rebased under $tmp.
mkdir -p "$tmp/out"
sed -E "s#^( +out: )(.*)\$#\\1$tmp/out/\\2#" buf.gen.yaml > "$tmp/buf.gen.yaml"
$BUF generate --template "$tmp/buf.gen.yaml"
stale=0
while IFS= read -r f; do
  rel=${f#"$tmp/out/"}
  rel=${rel#./}
  if ! cmp -s "$f" "$rel"; then echo "stale generated file: $rel (run make proto)"; stale=1; fi
done < <(find "$tmp/out" -type f)
# Generated files with no source left behind.
while IFS= read -r f; do
  [ -f "$tmp/out/$f" ] || { echo "generated file without a source: $f"; stale=1; }
done < <(git ls-files 'protocol/*.pb.go' 'client-js/src/gen/*' 'protocol/codes.md' 'protocol/limits.md')
exit $stale
