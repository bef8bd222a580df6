#!/bin/sh
# build-deb.sh ARCH VERSION: builds dist/twinleaf-dhcp4_VERSION_ARCH.deb from
# the binaries in dist/linux-ARCH/ (make cross), where ARCH is Debian's
# name: amd64, arm64 or armhf. nfpm is run from the Go module proxy at a
# pinned version, so nothing but Go is needed.
set -eu

usage() {
    echo "usage: $0 amd64|arm64|armhf VERSION (e.g. $0 arm64 0.1.0)" >&2
    exit 2
}
[ $# -eq 2 ] || usage
arch=$1
version=$2

case "$arch" in
    amd64) nfpm_arch=amd64 ;;
    arm64) nfpm_arch=arm64 ;;
    armhf) nfpm_arch=arm7 ;; # nfpm's name for Debian's armhf
    *) usage ;;
esac
case "$version" in
    [0-9]*) ;;
    *) echo "$0: VERSION must start with a digit (Debian rule), got '$version'" >&2; exit 2 ;;
esac

NFPM=${NFPM:-go run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2}
MAINTAINER=${MAINTAINER:-twinleaf developers <twinleaf@example.org>}

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/dist/linux-$arch"
for f in twinleaf-dhcp4 twinleafctl; do
    if [ ! -x "$bin/$f" ]; then
        echo "$0: $bin/$f is missing: run 'make cross' first" >&2
        exit 1
    fi
done
conf="$root/configs/home-server1.conf"
if [ ! -f "$conf" ]; then
    echo "$0: $conf is missing: it becomes /etc/kea/kea-dhcp4.conf" >&2
    exit 1
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

install -D -m 0755 "$bin/twinleaf-dhcp4" "$stage/usr/sbin/twinleaf-dhcp4"
install -D -m 0755 "$bin/twinleafctl" "$stage/usr/bin/twinleafctl"
install -D -m 0644 "$root/systemd/twinleaf-dhcp4.service" "$stage/lib/systemd/system/twinleaf-dhcp4.service"
install -d "$stage/etc/kea" "$stage/usr/share/doc/twinleaf-dhcp4/examples"
cat "$root/packaging/conffile-header.txt" "$conf" >"$stage/etc/kea/kea-dhcp4.conf"
install -m 0644 "$root/configs/home-server1.conf" "$root/configs/home-server2.conf" \
    "$stage/usr/share/doc/twinleaf-dhcp4/examples/"
install -m 0644 "$root/packaging/copyright" "$stage/usr/share/doc/twinleaf-dhcp4/copyright"
install -D -m 0644 "$root/packaging/lintian-overrides" "$stage/usr/share/lintian/overrides/twinleaf-dhcp4"
cp -r "$root/packaging/scripts" "$stage/scripts"
install -d "$stage/usr/share/man/man8" "$stage/usr/share/man/man1"
gzip -9n <"$root/packaging/man/twinleaf-dhcp4.8" >"$stage/usr/share/man/man8/twinleaf-dhcp4.8.gz"
gzip -9n <"$root/packaging/man/twinleafctl.1" >"$stage/usr/share/man/man1/twinleafctl.1.gz"

# A native package's changelog, one entry for this version. The date is the
# last commit's, so a rebuild of the same tree gives the same package.
date=$(git -C "$root" log -1 --format=%cD 2>/dev/null || date -R)
{
    echo "twinleaf-dhcp4 ($version) unstable; urgency=medium"
    echo
    echo "  * Release $version."
    echo
    echo " -- $MAINTAINER  $date"
} | gzip -9n >"$stage/usr/share/doc/twinleaf-dhcp4/changelog.gz"

mkdir -p "$root/dist"
out="$root/dist/twinleaf-dhcp4_${version}_${arch}.deb"
(
    cd "$stage"
    NFPM_ARCH=$nfpm_arch VERSION=$version MAINTAINER=$MAINTAINER \
        $NFPM package --config "$root/packaging/nfpm.yaml" --packager deb --target "$out"
)
echo "$out"
