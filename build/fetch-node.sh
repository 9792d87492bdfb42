#!/usr/bin/env bash
# Fetch the pinned Node.js for one architecture from the npm registry, verify its integrity,
# and lay it out where the build and pkg's SEA mode look for it:
#   .cache/node/node-v<ver>-linux-<arch>/bin/node      (+ .ok)  the binary
#   .cache/node/node-v<ver>-linux-<arch>.tar.gz        (+ .ok)  the archive pkg expects
# pkg looks in $HOME/.pkg-cache/sea; the build runs pkg with HOME=.cache/pkg-home, whose
# .pkg-cache/sea is a link to .cache/node, so pkg never downloads anything.
set -euo pipefail
arch=${1:?usage: fetch-node.sh x64|arm64}
cd "$(dirname "$0")/.."
. build/toolchain.env
want_var=NODE_INTEGRITY_$arch
want=${!want_var:?no integrity pinned for $arch}
name=node-v$NODE_VERSION-linux-$arch
dir=.cache/node
# Already here: refresh the markers so make sees the step as done.
if [ -f "$dir/$name/bin/node.ok" ] && [ -f "$dir/$name.tar.gz.ok" ]; then
  touch "$dir/$name/bin/node.ok" "$dir/$name.tar.gz.ok"
  exit 0
fi

mkdir -p "$dir/tgz" .cache/pkg-home/.pkg-cache
ln -sfn ../../node .cache/pkg-home/.pkg-cache/sea
tgz=$dir/tgz/node-linux-$arch-$NODE_VERSION.tgz
if [ ! -f "$tgz" ]; then
  echo "fetch-node: node-linux-$arch@$NODE_VERSION from the npm registry"
  npm pack --silent --pack-destination "$dir/tgz" "node-linux-$arch@$NODE_VERSION" >/dev/null
fi
got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
if [ "$got" != "$want" ]; then
  rm -f "$tgz"
  echo "fetch-node: integrity mismatch for node-linux-$arch@$NODE_VERSION" >&2
  echo "  want $want" >&2
  echo "  got  $got" >&2
  exit 1
fi
rm -rf "$dir/$name" "$dir/$name.tar.gz" "$dir/$name.tar.gz.ok"
mkdir -p "$dir/$name/bin"
tar -xzf "$tgz" -C "$dir/$name/bin" --strip-components=2 package/bin/node
tar -C "$dir" -cf - "$name/bin/node" | gzip -1 > "$dir/$name.tar.gz"
touch "$dir/$name.tar.gz.ok" "$dir/$name/bin/node.ok"
echo "fetch-node: $dir/$name/bin/node ($(du -h "$dir/$name/bin/node" | cut -f1)) verified"
