#!/usr/bin/env bash
# Fails when buf lint fails or the committed generated code is stale: the
# protobuf code (Go and TypeScript) and the code tables generated from
# codes.proto and the field limits (protocol/codes_table.pb.go,
# protocol/codes.md, protocol/limits_table.pb.go, protocol/limits.md,
# client-js/src/gen/limits_table.ts, client-js/src/gen/codes_table.ts),
# and the code each example game generates from its own buf.gen.yaml
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUF=$ROOT/.tools/bin/buf
# Once a release exists, the schema may only change compatibly with it.
if tag=$(git describe --tags --match 'v*' --abbrev=0 2>/dev/null); then
  echo "buf breaking against $tag"
  $BUF breaking --against ".git#tag=$tag"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
stale=0

# outdir is the scratch folder of the buf workspace in dir.
outdir() { echo "$tmp/out-$(echo "$1" | tr /. _r)"; }

# check lints and generates the buf workspace in dir into a scratch tree
# (every plugin's out: rebased under it) and compares each file.
check() {
  local dir=$1 out
  out=$(outdir "$1")
  mkdir -p "$out"
  (
    cd "$dir"
    $BUF lint
    sed -E "s#^( +out: )(.*)\$#\\1$out/\\2#" buf.gen.yaml > "$out.gen.yaml"
    $BUF generate --template "$out.gen.yaml"
    while IFS= read -r f; do
      rel=${f#"$out/"}
      rel=${rel#./}
      if ! cmp -s "$f" "$rel"; then echo "stale generated file: $dir/$rel (run make proto)"; exit 1; fi
    done < <(find "$out" -type f)
  ) || stale=1
}

check .
for gen in examples/*/buf.gen.yaml; do
  [ -f "$gen" ] && check "$(dirname "$gen")"
done

# Generated files with no source left behind.
while IFS= read -r f; do
  case $f in
    examples/*)
      dir=${f#examples/}; dir=examples/${dir%%/*}
      [ -f "$(outdir "$dir")/${f#"$dir/"}" ] || { echo "generated file without a source: $f"; stale=1; } ;;
    *)
      [ -f "$(outdir .)/$f" ] || { echo "generated file without a source: $f"; stale=1; } ;;
  esac
done < <(git ls-files 'protocol/*.pb.go' 'client-js/src/gen/*' 'protocol/codes.md' 'protocol/limits.md' 'examples/*/*v1/*.pb.go' 'examples/*/web/gen/*')
exit $stale
