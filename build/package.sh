#!/usr/bin/env bash
# Build one distribution package of mssql-role-check from the built binary.
# usage: package.sh deb amd64|arm64   BINARY OUT.deb
#        package.sh rpm x86_64|aarch64 BINARY OUT.rpm
# Needs dist/mssql-role-check.1 (make man) and dist/bundle-meta.json (make); the Makefile's
# "packages" target runs this four times. Works as any user: file owners are set to root by
# dpkg-deb --root-owner-group and by the spec's %attr, never by chown.
set -euo pipefail
format=${1:?deb or rpm}; arch=${2:?architecture}; bin=${3:?binary}; out=${4:?output file}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. build/toolchain.env
node=$top/.cache/node/node-v$NODE_VERSION-linux-x64/bin/node
meta() { "$node" build/pkgmeta.ts "$@"; }

name=mssql-role-check
version=$(meta version)
export SOURCE_DATE_EPOCH; SOURCE_DATE_EPOCH=$(meta epoch)
for f in "$bin" dist/$name.1 dist/bundle-meta.json README.md LICENSE CHANGELOG.md; do
  [ -f "$f" ] || { echo "package: $f is missing" >&2; exit 1; }
done

work=$top/dist/pkgbuild/$format-$arch
rm -rf "$work"
root=$work/root
mkdir -p "$root"
trap 'rm -rf "$work"' EXIT

# The files both formats ship. Modes are set here; owners are root in the package.
doc=$root/usr/share/doc/$name
install -D -m 0755 "$bin" "$root/usr/bin/$name"
install -d -m 0755 "$root/usr/share/man/man1" "$doc/examples" "$root/etc/$name"
gzip -9n < "dist/$name.1" > "$root/usr/share/man/man1/$name.1.gz"
chmod 0644 "$root/usr/share/man/man1/$name.1.gz"
install -m 0644 README.md "$doc/README.md"
for f in doc/examples/*; do
  install -m 0644 "$f" "$doc/examples/"
done
# The example config file is also the installed one; it may hold a password, hence 0640 for
# root and the group mssql-role-check, which the .deb's postinst and the .rpm's %pre create
# (the .deb gives the file to the group in postinst, the .rpm by %attr).
install -m 0640 doc/examples/$name.conf "$root/etc/$name/$name.conf"
# The daemon's example config, beside where it goes but not as serve.conf itself: the systemd
# unit starts only once the operator has written that (ConditionPathExists=). It holds no
# password (the unit hands one over as a systemd credential), hence 0644.
install -m 0644 doc/examples/serve.conf "$root/etc/$name/serve.conf.example"

case $format in
deb)
  [[ $arch =~ ^(amd64|arm64)$ ]] || { echo "package: deb architecture is amd64 or arm64, not $arch" >&2; exit 1; }
  # A native package (the version has no Debian revision), so its changelog is changelog.gz.
  meta changelog-debian | gzip -9n > "$doc/changelog.gz"
  meta copyright debian > "$doc/copyright"
  chmod 0644 "$doc/changelog.gz" "$doc/copyright"
  install -D -m 0644 build/deb/lintian-overrides "$root/usr/share/lintian/overrides/$name"
  # Debian 12 and older look for units in /lib (merged /usr or not)
  install -D -m 0644 build/systemd/$name.service "$root/lib/systemd/system/$name.service"
  size=$(du -sk --apparent-size "$root" | cut -f1)
  install -d -m 0755 "$root/DEBIAN"
  meta control "$arch" "$size" > "$root/DEBIAN/control"
  printf '%s\n' "/etc/$name/$name.conf" "/etc/$name/serve.conf.example" > "$root/DEBIAN/conffiles"
  for script in postinst prerm postrm; do
    install -m 0755 build/deb/$script "$root/DEBIAN/$script"
  done
  # md5sums of everything but the conffiles, which dpkg tracks by itself
  (cd "$root" && find usr lib -type f -print0 | LC_ALL=C sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
  chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"
  find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  # xz -2: a tenth bigger than the default -6, three times faster (dpkg-deb uses one thread)
  dpkg-deb --root-owner-group -Zxz -z2 --build "$root" "$work/out.deb" >/dev/null
  mv "$work/out.deb" "$out"
  ;;
rpm)
  [[ $arch =~ ^(x86_64|aarch64)$ ]] || { echo "package: rpm architecture is x86_64 or aarch64, not $arch" >&2; exit 1; }
  install -m 0644 CHANGELOG.md "$doc/CHANGELOG.md"
  install -D -m 0644 build/systemd/$name.service "$root/usr/lib/systemd/system/$name.service"
  install -d -m 0755 "$root/usr/share/licenses/$name"
  install -m 0644 LICENSE "$root/usr/share/licenses/$name/LICENSE"
  meta copyright rpm > "$root/usr/share/licenses/$name/copyright"
  chmod 0644 "$root/usr/share/licenses/$name/copyright"
  find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  meta spec "$root" > "$work/$name.spec"
  mkdir -p "$work/rpm/BUILD" "$work/rpm/RPMS" "$work/rpm/tmp"
  # --nodeps: there is nothing to build, so no build dependencies to check (and no rpm
  # database on a Debian host). HOME keeps any ~/.rpmmacros out of the build.
  if ! HOME=$work rpmbuild -bb --nodeps --target "$arch-linux" \
      --define "_topdir $work/rpm" --define "_tmppath $work/rpm/tmp" \
      --define "_rpmfilename %{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}.rpm" \
      "$work/$name.spec" >"$work/rpmbuild.log" 2>&1; then
    cat "$work/rpmbuild.log" >&2
    exit 1
  fi
  mv "$work/rpm/RPMS/$name-$version-1.$arch.rpm" "$out"
  ;;
*)
  echo "package: format is deb or rpm, not $format" >&2; exit 1 ;;
esac
echo "package: $out ($(du -h "$out" | cut -f1))"
