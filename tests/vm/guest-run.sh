#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Runs inside the test VM (chrooted into the build machine's root): loads the
# freshly built module, runs each test case, and records PASS/FAIL/SKIP in
# <results>/results.txt. A test fails if it exits non-zero or if the kernel
# logged a warning, BUG, oops, KFENCE report or hung task while it ran.
#
# usage: guest-run.sh <kver> <results_dir> <test>...
set -u

kver=$1
results=$2
shift 2

repo=$(cd "$(dirname "$0")/../.." && pwd)
export HM_REPO=$repo
export HM_KVER=$kver
export HM_KO=$repo/build/$kver/dm-hybridmig.ko
export HM_CTL=$repo/userspace/hybridmigctl
export HM_RESULTS=$results
export DM_DISABLE_UDEV=1
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp
cd /tmp || exit 1

# Anything matching this in the kernel log fails the test that caused it
# (here, and in the test itself at each dmesg_take: tests/vm/lib.sh).
export BAD_KERNEL_LOG='WARNING:|BUG:|Oops|KFENCE|general protection|blocked for more than|Call Trace|UBSAN|refcount_t:|list_add corruption|list_del corruption|stack-protector|kernel panic|RIP:'

echo 30 > /proc/sys/kernel/hung_task_timeout_secs 2>/dev/null
echo 1 > /proc/sys/kernel/panic_on_oops
ip link set lo up 2>/dev/null
modprobe dm-mod
modprobe loop 2>/dev/null
# insmod ignores the module's softdep: load the fast SHA-256 as modprobe would,
# and AES-NI (udev loads it for the CPU on a real host; there is no udev here),
# so that the link's gcm(aes) is the AES-NI one, as in production.
modprobe sha256_ssse3 2>/dev/null
modprobe aesni_intel 2>/dev/null

record() {
	echo "$*" >> "$results/results.txt"
	echo "guest: $*"
}

if ! insmod "$HM_KO" 2> "$results/insmod.err"; then
	for t in "$@"; do
		record "FAIL $t 0 insmod failed: $(head -n1 "$results/insmod.err")"
	done
	exit 1
fi

# Leave the machine as the next test expects it, even after a failure.
reset_guest() {
	dmsetup remove_all --force >/dev/null 2>&1
	losetup -D 2>/dev/null
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		ip netns del "$ns"
	done
	rm -rf /tmp/hm-*
	grep -q '^dm_hybridmig ' /proc/modules || insmod "$HM_KO"
}

test_timeout() {
	local t=${HM_TEST_TIMEOUT-}

	[ -n "$t" ] || t=$(sed -n 's/^# timeout: *\([0-9]*\).*/\1/p' "$1")
	echo "${t:-300}"
}

for t in "$@"; do
	file=$repo/tests/cases/$t.sh
	log=$results/$t.log
	dmesg -C
	echo "guest: running $t"
	start=$(date +%s)
	if [ -f "$file" ]; then
		timeout --kill-after=10 "$(test_timeout "$file")" \
			bash "$file" > "$log" 2>&1 < /dev/null
		rc=$?
	else
		echo "no such test: $file" > "$log"
		rc=1
	fi
	secs=$(( $(date +%s) - start ))
	dmesg > "$results/$t.dmesg"
	cat "$results/$t.dmesg" >> "$results/dmesg-all.txt"

	bad=$(grep -E -m1 "$BAD_KERNEL_LOG" "$results/$t.dmesg")
	if [ -n "$bad" ]; then
		record "FAIL $t $secs kernel log: $bad"
	elif [ "$rc" -eq 0 ]; then
		record "PASS $t $secs"
	elif [ "$rc" -eq 77 ]; then
		record "SKIP $t $secs $(sed -n 's/^SKIP: //p' "$log" | tail -n1)"
	elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		record "FAIL $t $secs timed out"
	else
		record "FAIL $t $secs $(grep -m1 '^FAIL: ' "$log" | cut -c7-)"
	fi
	reset_guest
done
echo "guest: done" >> "$results/results.txt"
