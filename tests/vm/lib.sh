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
