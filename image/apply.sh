#!/bin/sh
# image/apply.sh IMAGE.img OVERLAY.tar.gz [BOARD_DIR]: applies a twinleaf
# overlay to a downloaded Raspberry Pi OS or Ubuntu Server image file,
# without the board. Run as root (it attaches the image to a loop device
# and mounts its root file system). With BOARD_DIR (`pair init`'s
# DIR/serverN) it also installs that board's kea-dhcp4.conf and tls/
# certificates, so the card boots ready; the first-boot service then hands
# the keys to the _kea group.
#
# The root file system is the image's last Linux partition (MBR type 83,
# as on both systems' images, or GPT's Linux file system type); an image with no partition table is taken as
# one file system. Needs losetup, partx and mount (util-linux), tar.
set -eu

usage() {
    echo "usage: $0 IMAGE.img OVERLAY.tar.gz [BOARD_DIR]" >&2
    exit 2
}
[ $# -eq 2 ] || [ $# -eq 3 ] || usage
img=$1
overlay=$2
board=${3:-}
[ -f "$img" ] || { echo "$0: $img: no such image file (uncompress .img.xz first: xz -d)" >&2; exit 1; }
[ -f "$overlay" ] || { echo "$0: $overlay: no such overlay (make image writes dist/image/)" >&2; exit 1; }
if [ -n "$board" ] && [ ! -f "$board/kea-dhcp4.conf" ]; then
    echo "$0: $board has no kea-dhcp4.conf; give pair init's DIR/server1 or DIR/server2" >&2
    exit 1
fi
if [ "$(id -u)" != 0 ]; then
    echo "$0: needs root to attach and mount $img" >&2
    exit 1
fi

# The root partition's offset and size, in bytes (partx counts 512-byte
# sectors).
offset=0
size=""
if parts=$(partx --noheadings --raw -o START,SECTORS,TYPE "$img" 2>/dev/null) && [ -n "$parts" ]; then
    # MBR type 0x83, or GPT's Linux file system type.
    line=$(echo "$parts" | awk '$3 == "0x83" || $3 == "0fc63daf-8483-4772-8e79-3d69d8477de4" { l = $0 } END { print l }')
    if [ -z "$line" ]; then
        echo "$0: $img has no Linux (0x83) partition; partitions are:" >&2
        echo "$parts" >&2
        exit 1
    fi
    offset=$(($(echo "$line" | awk '{print $1}') * 512))
    size=$(($(echo "$line" | awk '{print $2}') * 512))
fi

mnt=$(mktemp -d)
loop=""
cleanup() {
    if mountpoint -q "$mnt"; then umount "$mnt"; fi
    if [ -n "$loop" ]; then losetup -d "$loop"; fi
    rmdir "$mnt"
}
trap cleanup EXIT
loop=$(losetup --find --show --offset "$offset" ${size:+--sizelimit "$size"} "$img")
mount "$loop" "$mnt"
if [ ! -d "$mnt/etc" ] || [ ! -d "$mnt/usr" ]; then
    echo "$0: the partition at offset $offset of $img is not a root file system (no /etc, /usr)" >&2
    exit 1
fi
# Keep the image's /lib, /bin ... symlinks (merged /usr) and its
# directories' modes.
tar -xzpf "$overlay" -C "$mnt" --keep-directory-symlink --no-overwrite-dir
if [ -n "$board" ]; then
    install -m 0644 "$board/kea-dhcp4.conf" "$mnt/etc/kea/kea-dhcp4.conf"
    for f in "$board"/tls/*.pem; do
        [ -f "$f" ] || continue
        install -m 0600 -o 0 -g 0 "$f" "$mnt/etc/kea/tls/$(basename "$f")"
    done
fi
echo "$0: applied $overlay${board:+ and $board} to $img"
