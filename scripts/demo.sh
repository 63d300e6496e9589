#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The main job (make demo): boot a test VM and migrate a VM's disk between
# two "hosts" (network namespaces): a hybridmig source over a 256 MiB
# volume with a VM-like write workload, a destination with a shared key;
# push while the VM writes, hand over, serve the VM's reads on the
# destination by pulling, complete, check the data and cut over to linear.
# The report (text and JSON) lands in build/demo/.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
"$repo/scripts/install-deps.sh"
make -s userspace
kver=${KVER:-$(ls -d /lib/modules/*/build | sed 's|/lib/modules/||; s|/build||' |
	while read -r k; do [ -e "/boot/vmlinuz-$k" ] && echo "$k"; done | sort -V | tail -n1)}
[ -n "$kver" ] || { echo "demo: no kernel with image and headers installed" >&2; exit 1; }
make -s module KVER="$kver" > /dev/null

out=$repo/build/demo
rm -rf "$out"
echo "demo: booting $kver under qemu (TCG); this takes a minute or two"
"$repo/tests/vm/boot" "$kver" "$out" /bin/bash "$repo/scripts/demo-guest.sh" "$kver" /tmp/results ||
	{ tail -n 30 "$out/console.log"; echo "demo: the VM failed" >&2; exit 1; }
[ -s "$out/report.txt" ] || { tail -n 30 "$out/console.log"; echo "demo: no report produced" >&2; exit 1; }
cat "$out/report.txt"
echo
echo "demo: report in build/demo/report.txt and build/demo/report.json"
