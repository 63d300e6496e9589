#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Build the tiny initramfs that boots a Debian kernel under qemu, mounts the
# build machine's root read-only over 9p, and runs a job from the results
# share inside a chroot of it (see tests/vm/init).
#
# usage: mkinitramfs.sh <kver> <output.cpio.gz>
set -euo pipefail

kver=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)

busybox=$(command -v busybox) || { echo "error: busybox-static is not installed" >&2; exit 1; }
test -d "/lib/modules/$kver" || { echo "error: no modules for kernel $kver" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,mnt,modules}
cp "$busybox" "$stage/bin/busybox"
cp "$here/init" "$stage/init"
chmod 755 "$stage/init"

# The 9p client and virtio transport, in dependency order, decompressed
# because busybox insmod cannot read .ko.xz.
n=0
for mod in 9p 9pnet_virtio virtio_pci; do
	modprobe -S "$kver" --show-depends "$mod"
done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' |
while read -r ko; do
	n=$((n + 1))
	dst=$(printf '%s/modules/%02d-%s' "$stage" "$n" "$(basename "${ko%.xz}")")
	case "$ko" in
	*.xz) xz -dc "$ko" > "$dst" ;;
	*) cp "$ko" "$dst" ;;
	esac
done

(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) > "$out.tmp"
mv "$out.tmp" "$out"
