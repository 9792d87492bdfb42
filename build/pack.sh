#!/usr/bin/env bash
# Pack the bundle into one single-executable binary per architecture with pkg's SEA mode.
# pkg runs on the pinned Node and finds both Node binaries in the project's cache (HOME is
# pointed at .cache/pkg-home), so nothing is downloaded.
# usage: pack.sh BUNDLE.cjs OUT-PREFIX   (writes OUT-PREFIX-linux-x64 and OUT-PREFIX-linux-arm64)
set -euo pipefail
bundle=${1:?bundle}; prefix=${2:?output prefix}
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/build/toolchain.env"
node=$top/.cache/node/node-v$NODE_VERSION-linux-x64/bin/node
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! HOME=$top/.cache/pkg-home PKG_CACHE_PATH=$top/.cache/pkg-home/.pkg-cache \
    "$node" "$top/node_modules/@yao-pkg/pkg/lib-es5/bin.js" "$bundle" --sea \
    --targets "node$NODE_VERSION-linux-x64,node$NODE_VERSION-linux-arm64" \
    --output "$prefix" >"$log" 2>&1; then
  cat "$log" >&2; exit 1
fi
# pkg names outputs <prefix>-x64 / <prefix>-arm64 when the targets differ only in arch.
for arch in x64 arm64; do
  for cand in "$prefix-$arch" "$prefix-linux-$arch"; do
    [ -f "$cand" ] && [ "$cand" != "$prefix-linux-$arch" ] && mv "$cand" "$prefix-linux-$arch"
  done
  [ -x "$prefix-linux-$arch" ] || { cat "$log" >&2; echo "pack: $prefix-linux-$arch missing" >&2; exit 1; }
done
if grep -qi 'download' "$log"; then cat "$log" >&2; echo "pack: pkg tried to download" >&2; exit 1; fi
