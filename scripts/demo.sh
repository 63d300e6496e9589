#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The main job (make demo): boot a test VM, create a hybridmig source device
# over a 256 MiB volume, run a VM-like write workload on it, connect it to a
# destination device on a second "host" (network namespace) with a shared
# key, and report what was tracked and how the link came up (text and JSON
# in build/demo/). The demo grows into a full migration as push, handover
# and post-copy land.
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
echo "demo: booting $kver under qemu (TCG); this takes about a minute"
"$repo/tests/vm/boot" "$kver" "$out" /bin/bash "$repo/scripts/demo-guest.sh" "$kver" /tmp/results ||
	{ tail -n 30 "$out/console.log"; echo "demo: the VM failed" >&2; exit 1; }
[ -s "$out/report.txt" ] || { tail -n 30 "$out/console.log"; echo "demo: no report produced" >&2; exit 1; }
cat "$out/report.txt"
echo
echo "demo: report in build/demo/report.txt and build/demo/report.json"
