#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 300
# The destination's metadata device fails during post-copy. The target
# fails safe: status says metadata "failed" (with an event), the VM's
# flushes fail from then on, even after the device heals (what is on
# disk can no longer be trusted to match), and no ACK says "durable".
# Re-created over the same devices once they work, the destination
# resumes post-copy from its last good commit: the VM's durable writes
# are there, and the migration completes with the right data.
. "$HM_REPO/tests/vm/lib.sh"

make_hosts
mib=16
chunk=128	# sectors: 64 KiB
a=$(mkloop a $mib)
b=$(mkloop b $mib)
bm=$(mkloop bm 1)
size=$(sectors "$a")
dd if=/dev/urandom of="$a" bs=1M count=$mib oflag=direct status=none
dm_create bm-disk "0 $(sectors "$bm") linear $bm 0"
dm_create hm-src "0 $size hybridmig source $a - $chunk 4 policy postcopy bandwidth 128"
create_dst() {
	dm_create hm-dst "0 $size hybridmig dest $b /dev/mapper/bm-disk $chunk"
}
create_dst
link_pair hm-src hm-dst
wait_for 20 field_is hm-src 18 1 || fail "source not ready: $(dmsetup status hm-src)"
must dmsetup message hm-src 0 handover
wait_for 10 field_is hm-dst 2 postcopy || fail "destination phase: $(dmsetup status hm-dst)"
cp /tmp/hm-a.img /tmp/expected.img
at_exit "rm -f /tmp/expected.img"

# dsync_write <chunk>: a whole chunk of random data, durable when dd
# returns (O_DSYNC); on success also into the expected image.
dsync_write() {
	head -c 65536 /dev/urandom > /tmp/w.bin
	dd if=/tmp/w.bin of=/dev/mapper/hm-dst bs=64k seek="$1" oflag=direct,dsync \
		conv=notrunc status=none 2>/dev/null || return 1
	dd if=/tmp/w.bin of=/tmp/expected.img bs=64k seek="$1" conv=notrunc status=none
}

note "a durable write while the metadata device works"
dsync_write 200 || fail "durable write with a working metadata device"
assert_eq ok "$(hm_field hm-dst 31)" "metadata state"
assert_eq 0 "$(hm_io_errors hm-dst)" "io_errors"
events=$(dm_events hm-dst)

note "the metadata device fails"
fault_dev bm-disk "$bm" error
dsync_write 201 && fail "a durable write succeeded with a failing metadata device"
wait_for 10 field_is hm-dst 31 failed || fail "metadata state: $(dmsetup status hm-dst)"
[ "$(hm_io_errors hm-dst)" -gt 0 ] || fail "no io_errors: $(dmsetup status hm-dst)"
[ "$(dm_events hm-dst)" -gt "$events" ] || fail "no dm event for the metadata failure"
dmesg | grep -q "metadata .* failed (error" || fail "no metadata error logged"

note "the device heals; the target stays failed until re-created"
fault_dev bm-disk "$bm" ok
sleep 1
assert_eq failed "$(hm_field hm-dst 31)" "metadata state after the device healed"
dsync_write 202 && fail "a durable write succeeded after a metadata failure"
wait_for 20 sh -c "dmesg | grep -q 'destination failed to write chunks'" ||
	fail "the source was told prefetched chunks are durable: $(hm_push_line hm-src)"
acked=$(hm_field hm-src 22)
sleep 3
assert_eq "$acked" "$(hm_field hm-src 22)" "chunks acknowledged by a destination whose metadata failed"
# Reads of chunks already here still work.
assert_eq "$(dd if=/tmp/expected.img bs=64k skip=200 count=1 status=none | md5sum)" \
	"$(dd if=/dev/mapper/hm-dst bs=64k skip=200 count=1 iflag=direct status=none | md5sum)" \
	"read of a durable write after the metadata failure"

note "re-created over the same devices: post-copy resumes from the last commit"
must dmsetup remove hm-dst
create_dst
hm_snap hm-dst
assert_eq postcopy "${HM_F[2]}" "phase after re-creating"
assert_eq ok "${HM_F[31]}" "metadata state after re-creating"
assert_eq "$(dd if=/tmp/expected.img bs=64k skip=200 count=1 status=none | md5sum)" \
	"$(dd if=/dev/mapper/hm-dst bs=64k skip=200 count=1 iflag=direct status=none | md5sum)" \
	"the durable write after re-creating"
# The failed writes left those chunks undefined: the VM writes them again.
dsync_write 201 || fail "durable write after re-creating"
dsync_write 202 || fail "durable write after re-creating"
must in_dst dmsetup message hm-dst 0 listen $DST_IP:7000 hybridmig:push
must dmsetup message hm-src 0 set bandwidth 0
wait_for 120 field_is hm-dst 2 complete || fail "destination not complete: $(hm_push_line hm-dst)"
wait_for 30 field_is hm-src 2 complete || fail "source not complete: $(hm_push_line hm-src)"
compare_data /tmp/expected.img "$b" $chunk
no_protocol_errors
