#!/usr/bin/env bash
# The Debian packages the project needs, from the distribution (Debian 12 / Ubuntu 24.04).
#   install-deps.sh build   what `make` and `make demo` need on a bare system: make, git,
#                           ca-certificates, openssl, tar, gzip, and Node.js and npm when no
#                           node and npm are on PATH (the distribution's: Debian 12 and
#                           Ubuntu 24.04 ship Node 18, enough for `npm ci` and for npm to fetch
#                           the pinned Node, build/fetch-node.sh, which runs everything else)
#   install-deps.sh         (make deps) the above and what the tests, the packages and the
#                           benchmark use
# Run as root, or it uses sudo. Safe to run again: installs only what is missing.
set -euo pipefail
sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
mode=${1:-all}
case $mode in build|all) ;; *) echo "usage: install-deps.sh [build]" >&2; exit 2 ;; esac

pkgs=(make git ca-certificates openssl tar gzip)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then pkgs+=(nodejs npm); fi
if [ "$mode" = all ]; then
  pkgs+=(
    iproute2 procps psmisc util-linux file binutils
    freetds-bin                         # tsql: an independent TDS client
    qemu-user-static libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64   # the arm64 binary
    keepalived haproxy                  # real peers
    dpkg-dev fakeroot lintian rpm man-db groff-base   # packages
    python3 python3-pymssql time        # benchmark: references, and GNU time for peak RSS
    docker-compose python3-yaml shellcheck   # static checks of the SQL Server 2022 docker harness
    prometheus                          # promtool: checks the daemon's /metrics
    systemd                             # systemd-analyze: verifies the daemon's unit
    systemd-container                   # systemd-nspawn: boots the unit under a real systemd
    chromium fonts-dejavu-core          # the daemon's status page, in a real browser
  )
fi
update=
if [ "$mode" = all ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $sudo dpkg --add-architecture arm64
  update=yes
fi
need=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
[ ${#need[@]} -eq 0 ] && [ -z "$update" ] && { echo "install-deps: all Debian packages present"; exit 0; }
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
[ ${#need[@]} -eq 0 ] || $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "install-deps: installed ${need[*]:-nothing new}"
