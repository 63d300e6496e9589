# SPDX-License-Identifier: GPL-2.0-only
#
# Helpers for the VM test cases. A case is a bash script that exits 0 on
# success, 77 to skip (after printing "SKIP: <what is missing>"), anything
# else on failure (after printing "FAIL: <why>"). Sourced, not run.
set -u

fail() {
	echo "FAIL: $*"
	exit 1
}

skip() {
	echo "SKIP: $*"
	exit 77
}

note() {
	echo "--- $*"
}

assert_eq() {
	[ "$1" = "$2" ] || fail "${3:-value}: expected '$1', got '$2'"
}

# Commands whose failure ends the test.
must() {
	"$@" || fail "command failed ($?): $*"
}

HM_CLEANUP=()
at_exit() {
	HM_CLEANUP=("$*" "${HM_CLEANUP[@]}")
}
run_cleanup() {
	local c
	for c in "${HM_CLEANUP[@]}"; do
		eval "$c" >/dev/null 2>&1
	done
}
trap run_cleanup EXIT

# mkloop <name> <MiB> [losetup options]: a loop device over a tmpfs file.
mkloop() {
	local name=$1 mib=$2 dev
	shift 2
	must truncate -s "${mib}M" "/tmp/hm-$name.img"
	dev=$(losetup --show -f "$@" "/tmp/hm-$name.img") || fail "losetup $name"
	at_exit "losetup -d $dev; rm -f /tmp/hm-$name.img"
	echo "$dev"
}

sectors() {
	blockdev --getsz "$1"
}

# hm_create <name> <table line>: create a dm device and remove it at exit.
dm_create() {
	local name=$1
	shift
	must dmsetup create "$name" --table "$*"
	at_exit "dmsetup remove --force $name"
}

# Field N (1-based) of the INFO status of a hybridmig device.
hm_field() {
	dmsetup status "$1" | awk -v n="$2" '{ print $(3 + n) }'
}

hm_dirty() {
	hm_field "$1" 5
}

# The dirty chunks of a device, one range per line ("a" or "a-b").
hm_dirty_list() {
	dmsetup message "$1" 0 list_dirty | tr ' ' '\n' | sed '/^$/d'
}

# write_sectors <dev> <sector> <count>: one direct write of random data.
write_sectors() {
	dd if=/dev/urandom of="$1" bs=$(($3 * 512)) count=1 seek=$(($2 * 512)) \
		oflag=direct,seek_bytes conv=notrunc status=none ||
		fail "write of $3 sectors to $1 at $2 failed"
}

md5() {
	md5sum < "$1" | cut -d' ' -f1
}

# /sys/block/<dm-N> of a dm device.
dm_sysfs() {
	echo "/sys/block/dm-$(dmsetup info -c --noheadings -o minor "$1" | tr -d ' ')"
}

# Two "hosts" in one guest: namespaces src and dst joined by a veth pair,
# addressed from the documentation ranges (the guest has no other network).
SRC_IP=192.0.2.1
DST_IP=192.0.2.2
SRC_IP6=2001:db8::1
DST_IP6=2001:db8::2
make_hosts() {
	must ip netns add src
	must ip netns add dst
	at_exit "ip netns del src; ip netns del dst"
	must ip link add veth-s type veth peer name veth-d
	must ip link set veth-s netns src
	must ip link set veth-d netns dst
	must ip -n src addr add $SRC_IP/24 dev veth-s
	must ip -n dst addr add $DST_IP/24 dev veth-d
	must ip -n src addr add $SRC_IP6/64 dev veth-s nodad
	must ip -n dst addr add $DST_IP6/64 dev veth-d nodad
	for ns in src dst; do
		must ip -n $ns link set lo up
	done
	must ip -n src link set veth-s up
	must ip -n dst link set veth-d up
}
in_src() {
	ip netns exec src "$@"
}
in_dst() {
	ip netns exec dst "$@"
}

# new_key <description>: a random 32-byte secret as a logon key; prints it.
new_key() {
	local secret
	secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
	keyctl add logon "$1" "$secret" @u > /dev/null || fail "keyctl add logon $1"
	at_exit "keyctl purge logon $1"
	echo "$secret"
}

# Link fields of the INFO status (after the 8 tracking fields).
hm_link_state() {
	hm_field "$1" 9
}
hm_link_error() {
	hm_field "$1" 12
}
hm_reconnects() {
	hm_field "$1" 11
}

# wait_for <seconds> <command...>: poll until the command succeeds.
wait_for() {
	local deadline=$(( $(date +%s) + $1 ))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.2
	done
}

link_is() {
	[ "$(hm_link_state "$1")" = "$2" ]
}

# Event counter of a dm device (dmsetup wait wakes when it moves).
dm_events() {
	dmsetup info -c --noheadings -o events "$1" | tr -d ' '
}

link_error_is() {
	[ "$(hm_link_error "$1")" = "$2" ]
}
