#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 300
# The metadata device: formatted on first use and refused when it does not
# describe the table; a clean shutdown keeps a source's exact dirty set;
# suspend/resume and reloads of identical tables at every phase change
# nothing; the superblock survives a torn slot.
. "$HM_REPO/tests/vm/lib.sh"

mib=16
chunk=128
a=$(mkloop a $mib)
am=$(mkloop am 1)
size=$(sectors "$a")

# expect_refused <expected ti->error> <table after "hybridmig">
expect_refused() {
	local want=$1
	shift
	dmesg_take
	dmsetup create hm-bad --table "$*" 2>/dev/null && {
		dmsetup remove hm-bad
		fail "table accepted: $*"
	}
	dmesg_take
	[[ $HM_DMESG == *"hybridmig: $want"* ]] ||
		fail "table '$*': expected '$want', kernel said: $HM_DMESG"
	echo "ok: refused: $want"
}

note "a new metadata device is formatted; the table is echoed with it"
dm_create hm-src "0 $size hybridmig source $a $am $chunk 1 start_clean"
hm_snap hm-src
assert_eq "tracking 0 ok 0" "${HM_F[2]} ${HM_F[5]} ${HM_F[31]} ${HM_F[32]}" \
	"phase, dirty, metadata, errors"
id=${HM_F[33]}
assert_eq "0 $size hybridmig source $(lsblk -dno MAJ:MIN "$a" | tr -d ' ') $(lsblk -dno MAJ:MIN "$am" | tr -d ' ') $chunk 1 start_clean" \
	"$(dmsetup table hm-src)" "table"
# Generation 1 goes to slot 1 (the slot is the generation's parity).
[ "$(od -An -tx1 -j$((4096 + 4)) -N4 "$am" | tr -d ' ')" = 484d4947 ] ||
	fail "no superblock magic in slot 1 of the metadata device"

note "a clean shutdown keeps the exact dirty set"
for s in 0 1000 1001 4000 32760; do
	write_sectors /dev/mapper/hm-src $s 8
done
want=$(hm_dirty_list hm-src | tr '\n' ' ')
assert_eq "0 7 31 255 " "$want" "dirty chunks written"
must dmsetup remove hm-src
dm_create hm-src "0 $size hybridmig source $a $am $chunk"
assert_eq "$want" "$(hm_dirty_list hm-src | tr '\n' ' ')" "dirty chunks after a clean restart"
assert_eq "$id" "$(hm_field hm-src 33)" "migration id after a restart"

note "suspend/resume and identical reloads keep the state"
must dmsetup suspend hm-src
must dmsetup resume hm-src
write_sectors /dev/mapper/hm-src 2048 8
want=$(hm_dirty_list hm-src | tr '\n' ' ')
must dmsetup load hm-src --table "0 $size hybridmig source $a $am $chunk"
must dmsetup resume hm-src
assert_eq "$want" "$(hm_dirty_list hm-src | tr '\n' ' ')" "dirty chunks after a reload"

note "a reload cannot change the metadata device or the migration"
am2=$(mkloop am2 1)
dmesg_take
dmsetup load hm-src --table "0 $size hybridmig source $a $am2 $chunk" 2>/dev/null &&
	fail "reload with another metadata device accepted"
dmesg_take
[[ $HM_DMESG == *"Reload cannot change the metadata device"* ]] || fail "no error for another metadata device"
dmsetup load hm-src --table "0 $size hybridmig source $a - $chunk" 2>/dev/null &&
	fail "reload without the metadata device accepted"
dmsetup load hm-src --table "0 $size hybridmig source $a $am $chunk 2 migration_id 00000000000000000000000000000001" \
	2>/dev/null && fail "reload with another migration_id accepted"
dmesg_take
[[ $HM_DMESG == *"Reload cannot change the migration_id"* ]] || fail "no error for another migration_id"
must dmsetup load hm-src --table "0 $size hybridmig source $a $am $chunk 2 migration_id $id"
must dmsetup resume hm-src
must dmsetup remove hm-src

note "metadata that does not describe the table is refused"
expect_refused "Metadata belongs to a source, the table says dest" \
	"0 $size hybridmig dest $a $am $chunk"
expect_refused "Metadata is for another chunk size" \
	"0 $size hybridmig source $a $am 256"
expect_refused "Metadata is for a target of another length" \
	"0 $((size - 256)) hybridmig source $a $am $chunk"
expect_refused "Metadata belongs to another migration" \
	"0 $size hybridmig source $a $am $chunk 2 migration_id 00000000000000000000000000000001"
dm_create hm-src "0 $size hybridmig source $a $am $chunk 2 migration_id $id"
must dmsetup remove hm-src

note "a torn superblock slot: the other one is used"
dm_create hm-src "0 $size hybridmig source $a $am $chunk"
gen_slot() {	# the slot of the newest superblock (generation parity)
	python3 -c '
import struct, sys
d = open(sys.argv[1], "rb").read(8192)
g = [struct.unpack_from("<Q", d, s * 4096 + 16)[0] for s in (0, 1)]
print(0 if g[0] > g[1] else 1)' "$am"
}
must dmsetup remove hm-src
newest=$(gen_slot)
dd if=/dev/urandom of="$am" bs=512 count=1 seek=$((newest * 8)) conv=notrunc status=none
dm_create hm-src "0 $size hybridmig source $a $am $chunk"
hm_snap hm-src
assert_eq "tracking $id" "${HM_F[2]} ${HM_F[33]}" "state from the older slot"
# The older slot was written before the clean shutdown: every chunk dirty.
assert_eq "${HM_F[4]}" "${HM_F[5]}" "dirty chunks from a not-clean slot"
must dmsetup remove hm-src
for slot in 0 1; do
	dd if=/dev/urandom of="$am" bs=512 count=1 seek=$((slot * 8)) conv=notrunc status=none
done
expect_refused "Metadata device holds no valid hybridmig superblock" \
	"0 $size hybridmig source $a $am $chunk"
