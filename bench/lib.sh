# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# Helpers shared by the benchmarks' guest scripts (guest-*.sh), which run
# inside the benchmark VM chrooted into the build machine's root (see
# tests/vm/init). Sourced, not run. Set BENCH_NAME (the log prefix) and
# results (the results directory) before sourcing.
set -u

bench_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bench_repo=$(cd "$bench_here/.." && pwd)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export DM_DISABLE_UDEV=1
export HOME=/tmp
cd /tmp || exit 1

# Anything matching this in the guest's kernel log is reported.
BAD_KERNEL_LOG='WARNING:|BUG:|Oops|KFENCE|general protection|blocked for more than|Call Trace|UBSAN|refcount_t:|list_add corruption|list_del corruption|kernel panic|RIP:'
SRC_IP=192.0.2.1
DST_IP=192.0.2.2

now() {
	date +%s.%N
}
# elapsed <t0> <t1>: seconds between two now() stamps.
elapsed() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'
}
t_start=$(now)
log() {
	echo "$BENCH_NAME [$(elapsed "$t_start" "$(now)")s]: $*"
}
# die <why>: the reason in <results>/FAILED, no device left, exit 1.
die() {
	log "FAILED: $*"
	echo "$*" > "$results/FAILED"
	dmsetup remove_all --force >/dev/null 2>&1
	exit 1
}
in_src() {
	ip netns exec src "$@"
}
in_dst() {
	ip netns exec dst "$@"
}

# snap <dev>: every INFO status field of a hybridmig device at once, into
# F (F[N] is field N, Documentation/hybridmig.rst).
snap() {
	local line
	line=$(dmsetup status "$1") || die "dmsetup status $1"
	read -ra F <<< "x $(echo "$line" | cut -d' ' -f4-)"
}
field() {
	dmsetup status "$1" | awk -v n="$2" '{ print $(3 + n) }'
}
events() {
	dmsetup info -c --noheadings -o events "$1" | tr -d ' '
}
mem_mib() {
	awk -v k="$1:" '$1 == k { print int($2 / 1024) }' /proc/meminfo
}

# bench_setup <module> <sha256_ssse3: 0|1> [modules...]: the guest's kernel
# side: panic on oops, dm-mod and the other modules, the fast SHA-256 (the
# module's softdep, which insmod ignores) unless 0, AES-NI (which udev loads
# on a real host, for the CPU; the guest has no udev: without it the link's
# gcm(aes) would be generic AES), then the module.
bench_setup() {
	local ko=$1 ssse3=$2 m
	shift 2
	command -v fio >/dev/null || die "fio is not installed"
	command -v python3 >/dev/null || die "python3 is not available in the guest"
	echo 1 > /proc/sys/kernel/panic_on_oops
	echo 30 > /proc/sys/kernel/hung_task_timeout_secs 2>/dev/null
	for m in dm-mod "$@"; do
		modprobe "$m" || die "modprobe $m"
	done
	if [ "$ssse3" = 1 ]; then
		modprobe sha256_ssse3 || die "modprobe sha256_ssse3"
	fi
	grep -qw aes /proc/cpuinfo && modprobe aesni_intel
	insmod "$ko" 2> /tmp/insmod.err || die "insmod $ko: $(cat /tmp/insmod.err)"
	dmesg -C
}

# bench_hosts: two "hosts", network namespaces src and dst joined by the
# veth pair veth-s/veth-d, and a random logon key $KEY for the link.
bench_hosts() {
	local ns secret
	ip link set lo up
	ip netns add src || die "ip netns add src"
	ip netns add dst || die "ip netns add dst"
	ip link add veth-s type veth peer name veth-d || die "veth"
	ip link set veth-s netns src
	ip link set veth-d netns dst
	ip -n src addr add $SRC_IP/24 dev veth-s
	ip -n dst addr add $DST_IP/24 dev veth-d
	for ns in src dst; do
		ip -n $ns link set lo up
	done
	ip -n src link set veth-s up
	ip -n dst link set veth-d up
	secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
	keyctl add logon "$KEY" "$secret" @u > /dev/null || die "keyctl add logon $KEY"
	keyctl link @u @s 2>/dev/null
}

# bench_kernel_log <bad_file>: the guest's kernel log into
# <results>/dmesg.txt, the lines that look like trouble into <bad_file>.
bench_kernel_log() {
	dmesg > "$results/dmesg.txt"
	grep -E "$BAD_KERNEL_LOG" "$results/dmesg.txt" > "$1"
}
