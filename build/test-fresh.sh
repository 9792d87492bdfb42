#!/usr/bin/env bash
# make test-fresh: the README's two set-up commands, as written, on a bare Debian 12. A minimal
# system (debootstrap --variant=minbase: nothing but the essential packages and apt) gets the
# committed tree (git archive HEAD, what a fresh clone has) and runs, as root in a chroot, each
# command of the README's first code block, timed. Needs root, network access to a Debian mirror
# and the npm registry; installs debootstrap on the host if absent. Not run by `make test` or CI
# (it downloads a system and runs the whole suite: the better part of an hour).
#   make test-fresh TEST_FRESH_KEEP=1 DEBIAN_MIRROR=http://deb.debian.org/debian
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "test-fresh: run as root (debootstrap, chroot)" >&2; exit 1; }
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
if ! command -v debootstrap >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi
work=$(mktemp -d /var/tmp/test-fresh.XXXXXX)
root=$work/root
# every mount under the root, deepest first (the tests add their own, e.g. run/netns)
mounts_under() { awk -v r="$1" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/mounts | sort -r; }
cleanup() {
  for m in $(mounts_under "$root"); do umount -l "$m" 2>/dev/null || true; done
  if [ -n "$(mounts_under "$root")" ]; then
    echo "test-fresh: still mounted under $root, left in place:" $(mounts_under "$root") >&2
  elif [ -n "${TEST_FRESH_KEEP:-}" ]; then echo "test-fresh: kept $root"; else rm -rf "$work"; fi
}
trap cleanup EXIT

t0=$(date +%s)
echo "test-fresh: debootstrap --variant=minbase bookworm from $mirror"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -20 "$work/debootstrap.log" >&2; exit 1; }
echo "test-fresh: a Debian 12 root in $(( $(date +%s) - t0 )) s"
# the root is a mount point of its own, as on a real machine: ip netns exec and unshare -m change
# the propagation of "/", which fails where "/" is no mount point
mount --bind "$root" "$root"
mount --make-private "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# The host's own certificate authorities (an organisation's, or a proxy's that re-signs HTTPS):
# without them neither apt over https nor npm reaches anything from behind such a proxy. The
# ca-certificates package, once the first command installs it, adds them to the system store.
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
fi
extra_ca=()
[ -n "${NODE_EXTRA_CA_CERTS:-}" ] && extra_ca=(NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt)
src=/root/mssql-role-check
mkdir -p "$root$src"
git -C "$top" archive HEAD | tar -x -C "$root$src"

# The README's first ```sh block, one command per line.
mapfile -t commands < <(awk '/^```sh$/ { if (seen++) exit; inblock = 1; next } /^```$/ { if (inblock) exit } inblock' "$top/README.md")
[ ${#commands[@]} -ge 2 ] || { echo "test-fresh: no commands found at the top of README.md" >&2; exit 1; }
status=0
for c in "${commands[@]}"; do
  t=$(date +%s)
  echo "test-fresh: # $c"
  if chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 "${extra_ca[@]}" PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      sh -c "cd $src && $c" >"$work/command.log" 2>&1; then
    echo "test-fresh: ok in $(( $(date +%s) - t )) s"
  else
    status=$?
    tail -40 "$work/command.log"
    echo "test-fresh: FAILED (exit $status) after $(( $(date +%s) - t )) s: $c"
    break
  fi
  tail -5 "$work/command.log"
done
echo "test-fresh: $([ $status = 0 ] && echo passed || echo failed) in $(( $(date +%s) - t0 )) s in all"
exit $status
