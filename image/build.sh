#!/bin/sh
# image/build.sh: root file system overlays for a twinleaf pair on
# Raspberry Pi OS or Ubuntu Server (run by `make image`). Per board N and
# per architecture it writes
#
#   dist/image/twinleaf-overlay-serverN.tar.gz        arm64 (Pi 3, 4, 5)
#   dist/image/twinleaf-overlay-serverN-armhf.tar.gz  32-bit Raspberry Pi OS
#
# holding the binaries from `make cross`, the systemd units, enabled, the
# _kea user for systemd-sysusers, the first-boot script, and
# /etc/kea/kea-dhcp4.conf for that board. The configs come from
# dist/image/pair/ (PAIR_DIR), made by `twinleafctl pair init $PAIR_FLAGS`
# when absent. Its serverN/tls/ directories and pki/ hold the pair's keys:
# they never go into an overlay (see image/README.md for how they reach
# the boards); keep them, and do not publish them.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$root/dist/image}
pair=${PAIR_DIR:-$out/pair}
ctl=${TWINLEAFCTL:-$root/bin/twinleafctl}
# The last commit's time stamps every file, so a rebuild of the same tree
# gives the same tarballs.
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)}

for a in arm64 armhf; do
    for f in twinleaf-dhcp4 twinleafctl; do
        if [ ! -x "$root/dist/linux-$a/$f" ]; then
            echo "$0: $root/dist/linux-$a/$f is missing: run 'make cross' first" >&2
            exit 1
        fi
    done
done
mkdir -p "$out"
if [ ! -f "$pair/server1/kea-dhcp4.conf" ]; then
    if [ ! -x "$ctl" ]; then
        echo "$0: $ctl is missing: run 'make build' first" >&2
        exit 1
    fi
    # shellcheck disable=SC2086 # PAIR_FLAGS is a list of flags
    "$ctl" pair init --out "$pair" ${PAIR_FLAGS:-}
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

for a in arm64 armhf; do
    for n in 1 2; do
        s=$stage/server$n-$a
        # Units under /usr/lib: on merged-/usr systems /lib is a symlink
        # that extracting a lib/ directory would replace.
        install -D -m 0755 "$root/dist/linux-$a/twinleaf-dhcp4" "$s/usr/sbin/twinleaf-dhcp4"
        install -D -m 0755 "$root/dist/linux-$a/twinleafctl" "$s/usr/bin/twinleafctl"
        install -D -m 0644 "$root/systemd/twinleaf-dhcp4.service" "$s/usr/lib/systemd/system/twinleaf-dhcp4.service"
        install -D -m 0644 "$root/image/twinleaf-firstboot.service" "$s/usr/lib/systemd/system/twinleaf-firstboot.service"
        install -D -m 0644 "$root/systemd/twinleaf-dhcp4.sysusers" "$s/usr/lib/sysusers.d/twinleaf-dhcp4.conf"
        install -D -m 0755 "$root/image/firstboot" "$s/usr/lib/twinleaf/firstboot"
        install -D -m 0644 "$pair/server$n/kea-dhcp4.conf" "$s/etc/kea/kea-dhcp4.conf"
        install -d -m 0750 "$s/etc/kea/tls"
        # What `systemctl enable` would do.
        install -d "$s/etc/systemd/system/multi-user.target.wants"
        for u in twinleaf-dhcp4.service twinleaf-firstboot.service; do
            ln -s "/usr/lib/systemd/system/$u" "$s/etc/systemd/system/multi-user.target.wants/$u"
        done
        name=twinleaf-overlay-server$n
        [ "$a" = arm64 ] || name=$name-$a
        # Only our files and directories: an entry for a system directory
        # (usr/, etc/systemd/) would reset its mode on the image.
        (
            cd "$s"
            find . ! -type d -o -path ./etc/kea -o -path ./etc/kea/tls -o -path ./usr/lib/twinleaf |
                sed 's|^\./||' | LC_ALL=C sort >"$stage/list"
            tar --no-recursion --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
                -cf - -T "$stage/list" | gzip -9n >"$out/$name.tar.gz"
        )
        echo "$out/$name.tar.gz"
    done
done
