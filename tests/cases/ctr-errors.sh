#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Every malformed table is refused with its own error, and nothing is left.
. "$HM_REPO/tests/vm/lib.sh"

data=$(mkloop data 16)
size=$(sectors "$data")

# expect_error <expected ti->error substring> <table args after "hybridmig">
# The kernel log is taken after each case, so a case sees its own lines
# only. A device left behind would make the next create fail before the
# constructor runs, without the expected error; the last is checked below.
expect_error() {
	local want=$1
	shift
	if dmsetup create hm-bad --table "0 $size hybridmig $*" 2>/dev/null; then
		dmsetup remove hm-bad
		fail "table accepted: $*"
	fi
	dmesg_take
	[[ $HM_DMESG == *"hybridmig: $want"* ]] ||
		fail "table '$*': expected error '$want', kernel said: $HM_DMESG"
	echo "ok: $* -> $want"
}

expect_error "Invalid argument count" source "$data" -
expect_error "Invalid role: expected source or dest" sauce "$data" - 128
# Any optional argument on a destination fails with one error.
SRCOPT="Optional arguments are for a source, not a destination"
expect_error "$SRCOPT" dest "$data" - 128 1 start_clean
expect_error "$SRCOPT" dest "$data" - 128 2 hot_threshold 3
expect_error "$SRCOPT" dest "$data" - 128 2 policy hybrid
expect_error "$SRCOPT" dest "$data" - 128 2 bandwidth 0
expect_error "$SRCOPT" dest "$data" - 128 2 ready_chunks 10
expect_error "Invalid chunk size: not a power of two" dest "$data" - 96
expect_error "Cannot open the data device" source /dev/does-not-exist - 128
expect_error "Metadata device must not be the data device" source "$data" "$data" 128
expect_error "Cannot open the metadata device" source "$data" /dev/does-not-exist 128
# Two superblock slots and one bitmap block need 24 sectors.
tiny=$(mkloop tiny 1)
dm_create hm-tinymd "0 16 linear $tiny 0"
expect_error "Metadata device is too small" source "$data" /dev/mapper/hm-tinymd 128
junk=$(mkloop junk 1)
printf 'not hybridmig metadata' | dd of="$junk" conv=notrunc status=none
expect_error "Metadata device holds no valid hybridmig superblock" source "$data" "$junk" 128
expect_error "Invalid migration_id: expected 32 hex digits" source "$data" - 128 2 migration_id 1234
expect_error "Invalid migration_id: expected 32 hex digits" dest "$data" - 128 2 migration_id \
	0123456789abcdef0123456789abcdeg
expect_error "Duplicate optional argument: migration_id" source "$data" - 128 4 \
	migration_id 0123456789abcdef0123456789abcdef migration_id 0123456789abcdef0123456789abcdef
expect_error "Invalid chunk size: not a number" source "$data" - 64k
expect_error "Invalid chunk size: not a number" source "$data" - -128
expect_error "Invalid chunk size: not a power of two" source "$data" - 100
expect_error "Invalid chunk size: not a power of two" source "$data" - 0
expect_error "Invalid chunk size: less than 8 sectors" source "$data" - 4
expect_error "Invalid chunk size: more than 2048 sectors" source "$data" - 4096
expect_error "Invalid chunk size: more than 2048 sectors" dest "$data" - 4194304
expect_error "Invalid number of optional arguments" source "$data" - 128 1
expect_error "Invalid number of optional arguments" source "$data" - 128 3 hot_threshold 2
expect_error "Invalid number of optional arguments" source "$data" - 128 17 \
	start_clean start_clean start_clean start_clean start_clean start_clean \
	start_clean start_clean start_clean start_clean start_clean start_clean \
	start_clean start_clean start_clean start_clean start_clean
expect_error "Invalid number of optional arguments" source "$data" - 128 x start_clean
expect_error "Unknown optional argument" source "$data" - 128 1 no_such_option
expect_error "Duplicate optional argument: start_clean" source "$data" - 128 2 start_clean start_clean
expect_error "Duplicate optional argument: hot_threshold" source "$data" - 128 4 hot_threshold 2 hot_threshold 3
expect_error "Missing value for hot_threshold" source "$data" - 128 1 hot_threshold
expect_error "Invalid hot_threshold: expected 0..15" source "$data" - 128 2 hot_threshold 16
expect_error "Invalid hot_threshold: expected 0..15" source "$data" - 128 2 hot_threshold many
expect_error "Invalid hot_threshold: expected 0..15" source "$data" - 128 2 hot_threshold -1
expect_error "Duplicate optional argument: policy" source "$data" - 128 4 policy hybrid policy precopy
expect_error "Duplicate optional argument: bandwidth" source "$data" - 128 4 bandwidth 1 bandwidth 1
expect_error "Duplicate optional argument: ready_chunks" source "$data" - 128 4 ready_chunks 1 ready_chunks 2
expect_error "Missing value for policy" source "$data" - 128 1 policy
expect_error "Missing value for bandwidth" source "$data" - 128 1 bandwidth
expect_error "Missing value for ready_chunks" source "$data" - 128 1 ready_chunks
for bad in mirror hybrid2 1; do
	expect_error "Invalid policy" source "$data" - 128 2 policy "$bad"
done
for bad in -1 x 1k 99999999999999999999; do
	expect_error "Invalid bandwidth" source "$data" - 128 2 bandwidth "$bad"
done
for bad in -1 x 1k; do
	expect_error "Invalid ready_chunks" source "$data" - 128 2 ready_chunks "$bad"
done
expect_error "Too many arguments" source "$data" - 128 1 start_clean extra

# The target is longer than the data device.
dmsetup create hm-bad --table "0 $((size + 8)) hybridmig source $data - 128" 2>/dev/null &&
	fail "a target longer than its data device was accepted"
dmesg_take
[[ $HM_DMESG == *"hybridmig: Data device is smaller than the target"* ]] || fail "no error for a short data device"
echo "ok: short data device"

# More chunks than the bitmaps can index (16 TiB of dm-zero, 4 KiB chunks).
huge=$((1 << 35))
dm_create zero16t "0 $huge zero"
dmsetup create hm-bad --table "0 $huge hybridmig source /dev/mapper/zero16t - 8" 2>/dev/null &&
	fail "2^32 chunks accepted"
dmesg_take
[[ $HM_DMESG == *"hybridmig: Too many chunks: use a larger chunk size"* ]] || fail "no error for too many chunks"
echo "ok: too many chunks"

# Two targets never track the same data device.
dm_create hm1 "0 $size hybridmig source $data - 128"
dmsetup create hm-bad --table "0 $size hybridmig source $data - 128" 2>/dev/null &&
	fail "a second target on the same data device was accepted"
dmesg_take
[[ $HM_DMESG == *"hybridmig: Data or metadata device is in use by another hybridmig target"* ]] ||
	fail "no error for a shared data device"
echo "ok: data device in use"
dmsetup info hm-bad >/dev/null 2>&1 && fail "a refused table left device hm-bad behind"
must dmsetup remove hm1

# Valid variants are accepted (keywords are case-insensitive) and echoed.
data_mm=$(lsblk -dno MAJ:MIN "$data" | tr -d ' ')
dm_create hm-ok "0 $size hybridmig SOURCE $data - 8 3 START_CLEAN hot_threshold 15"
assert_eq "0 $size hybridmig source $data_mm - 8 3 start_clean hot_threshold 15" \
	"$(dmsetup table hm-ok)" "table of a valid device"
hm_snap hm-ok
assert_eq 0 "${HM_F[5]}" "dirty chunks of a clean start"
assert_eq 15 "${HM_F[7]}" hot_threshold
must dmsetup remove hm-ok

# hot_threshold 0 (never defer), every policy, a bandwidth, ready_chunks:
# given in any order and case, echoed in canonical order.
dm_create hm-ok "0 $size hybridmig source $data - 2048 9 ready_chunks 7 BANDWIDTH 1000 Policy precopy hot_threshold 0 start_clean"
assert_eq "0 $size hybridmig source $data_mm - 2048 9 start_clean hot_threshold 0 policy precopy bandwidth 1000 ready_chunks 7" \
	"$(dmsetup table hm-ok)" "table with every option"
hm_snap hm-ok
assert_eq "2048 0 precopy 1000" "${HM_F[3]} ${HM_F[7]} ${HM_F[17]} ${HM_F[27]}" \
	"chunk_sectors hot_threshold policy bandwidth"
must dmsetup remove hm-ok
for p in hybrid precopy postcopy; do
	dm_create hm-ok "0 $size hybridmig source $data - 128 2 policy $p"
	assert_eq "0 $size hybridmig source $data_mm - 128 2 policy $p" \
		"$(dmsetup table hm-ok)" "table with policy $p"
	assert_eq "$p" "$(hm_field hm-ok 17)" "policy field"
	must dmsetup remove hm-ok
done
# Defaults are not echoed; the status shows them.
dm_create hm-ok "0 $size hybridmig source $data - 128"
assert_eq "0 $size hybridmig source $data_mm - 128" "$(dmsetup table hm-ok)" "table without options"
hm_snap hm-ok
assert_eq "4 hybrid 0" "${HM_F[7]} ${HM_F[17]} ${HM_F[27]}" "default hot_threshold policy bandwidth"
must dmsetup remove hm-ok
dm_create hm-ok "0 $size hybridmig dest $data - 128"
assert_eq "0 $size hybridmig dest $data_mm - 128" "$(dmsetup table hm-ok)" "destination table"
hm_snap hm-ok
assert_eq "- 0 0" "${HM_F[17]} ${HM_F[18]} ${HM_F[27]}" "destination policy ready bandwidth"
must dmsetup remove hm-ok

# A 4 KiB-sector data device takes a 4 KiB chunk.
data4k=$(mkloop data4k 16 --sector-size 4096)
dm_create hm-4k "0 $(sectors "$data4k") hybridmig source $data4k - 8"
must dmsetup remove hm-4k
