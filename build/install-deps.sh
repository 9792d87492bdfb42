#!/usr/bin/env bash
# Debian packages the tests, the packages and the benchmark need (Debian 12 / Ubuntu).
# Run as root, or it uses sudo. Safe to run again.
set -euo pipefail
sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
pkgs=(
  make openssl ca-certificates tar gzip iproute2 procps psmisc util-linux file binutils
  freetds-bin                         # tsql: an independent TDS client
  qemu-user-static libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64   # the arm64 binary
  keepalived haproxy                  # real peers
  dpkg-dev fakeroot lintian rpm man-db groff-base   # packages
  python3 python3-pymssql time        # benchmark: references, and GNU time for peak RSS
  docker-compose python3-yaml shellcheck   # static checks of the SQL Server 2022 docker harness
)
need=()
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $sudo dpkg --add-architecture arm64
  need=(update)
fi
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
[ ${#need[@]} -eq 0 ] && { echo "install-deps: all Debian packages present"; exit 0; }
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
echo "install-deps: installed ${#pkgs[@]} Debian packages"
