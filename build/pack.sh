#!/usr/bin/env bash
# Pack the bundle into one single-executable binary per architecture with pkg's SEA mode
# (build/sea-pack.mjs drives pkg's SEA pipeline: the x64 binary carries a V8 code cache).
# pkg runs on the pinned Node and finds both Node binaries in the project's cache (HOME is
# pointed at .cache/pkg-home), so nothing is downloaded.
# usage: pack.sh BUNDLE.cjs OUT-PREFIX [sea-pack.mjs options]
#   (writes OUT-PREFIX-linux-x64 and OUT-PREFIX-linux-arm64)
set -euo pipefail
bundle=${1:?bundle}; prefix=${2:?output prefix}; shift 2
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/build/toolchain.env"
node=$top/.cache/node/node-v$NODE_VERSION-linux-x64/bin/node
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! HOME=$top/.cache/pkg-home PKG_CACHE_PATH=$top/.cache/pkg-home/.pkg-cache NODE_VERSION=$NODE_VERSION \
    "$node" "$top/build/sea-pack.mjs" "$bundle" "$prefix" "$@" >"$log" 2>&1; then
  cat "$log" >&2; exit 1
fi
for arch in x64 arm64; do
  case " $* " in *" --arch="*) grep -q -- "--arch=[^ ]*$arch" <<<"$*" || continue ;; esac
  [ -x "$prefix-linux-$arch" ] || { cat "$log" >&2; echo "pack: $prefix-linux-$arch missing" >&2; exit 1; }
done
if grep -qi 'download' "$log"; then cat "$log" >&2; echo "pack: pkg tried to download" >&2; exit 1; fi
