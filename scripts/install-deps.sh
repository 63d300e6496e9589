#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Install every Debian package that building, testing, the demo and the
# benchmarks need. Idempotent: only missing packages are installed.
set -euo pipefail

PACKAGES=(
	build-essential pkg-config
	linux-headers-amd64 linux-image-amd64			# Debian 12's 6.1
	linux-headers-6.12-amd64 linux-image-6.12-amd64		# and 6.12
	linux-source-6.1 sparse					# checkpatch.pl, sparse
	clang libclang-rt-14-dev libssl-dev			# the protocol fuzzer
	libdevmapper-dev libjson-c-dev libkeyutils-dev dmsetup	# hybridmigctl
	qemu-system-x86 busybox-static kmod cpio gzip xz-utils	# the test VM
	fio util-linux e2fsprogs iproute2 python3 procps	# inside the VM
	python3-cryptography					# the Python peer: AES-GCM frames
	keyutils						# logon keys in tests
	dkms groff-base bsdutils				# packaging tests (dkms, man, script)
	iperf3							# raw TCP in the push benchmark
	qemu-system-common nbd-client gnuplot-nox		# the migration benchmark:
								# QEMU's mirror peer, plots
)

pkgs=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		pkgs+=("$p")
done

if [ ${#pkgs[@]} -eq 0 ]; then
	echo "deps: all packages present"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages: ${pkgs[*]}; run as root or install them" >&2
	exit 1
fi
echo "deps: installing ${pkgs[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${pkgs[@]}" > /tmp/hybridmig-apt.log 2>&1 ||
	{ tail -n 30 /tmp/hybridmig-apt.log; echo "deps: apt-get install failed" >&2; exit 1; }
echo "deps: done"
