#!/usr/bin/env bash
# Fails when buf lint fails or the committed generated code is stale.
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
# Generate into a scratch copy of the output folders and compare.
mkdir -p "$tmp/protocol" "$tmp/client-js/src/gen"
sed -e "s#out: protocol#out: $tmp/protocol#" -e "s#out: client-js/src/gen#out: $tmp/client-js/src/gen#" buf.gen.yaml > "$tmp/buf.gen.yaml"
$BUF generate --template "$tmp/buf.gen.yaml"
stale=0
while IFS= read -r f; do
  rel=${f#"$tmp/"}
  if ! cmp -s "$f" "$rel"; then echo "stale generated file: $rel (run make proto)"; stale=1; fi
done < <(find "$tmp/protocol" "$tmp/client-js/src/gen" -type f)
# Generated files with no source left behind.
while IFS= read -r f; do
  [ -f "$tmp/$f" ] || { echo "generated file without a source: $f"; stale=1; }
done < <(git ls-files 'protocol/*.pb.go' 'client-js/src/gen/*')
exit $stale
