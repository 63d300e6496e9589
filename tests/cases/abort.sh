#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 300
# abort before handover: the push stops, the VM keeps running on the source
# untouched (writes work, nothing lost), the destination reports aborted
# and refuses all I/O (a held write fails at once), and the source can
# migrate again, in full, to a new destination.
. "$HM_REPO/tests/vm/lib.sh"

make_linked_pair hm-src hm-dst 16M 128 bandwidth 2048
dd if=/dev/urandom of=/tmp/hm-img-ref bs=1M count=16 status=none
at_exit "rm -f /tmp/hm-img-ref /tmp/hm-img-want"
dd if=/tmp/hm-img-ref of=/dev/mapper/hm-src bs=1M count=16 oflag=direct status=none
wait_for 20 field_gt hm-src 22 0 || fail "nothing pushed: $(dmsetup status hm-src)"
dd if=/dev/zero of=/dev/mapper/hm-dst bs=4k count=1 oflag=direct status=none 2>/dev/null &
held=$!
sleep 1
ev=$(dm_events hm-dst)

must dmsetup message hm-src 0 abort
wait $held && fail "the held write on the destination succeeded after abort"
wait_for 10 field_is hm-dst 2 aborted || fail "destination not aborted: $(dmsetup status hm-dst)"
[ "$(dm_events hm-dst)" -gt "$ev" ] || fail "no event on the destination at abort"
dd if=/dev/mapper/hm-dst of=/dev/null bs=4k count=1 iflag=direct status=none 2>/dev/null &&
	fail "the aborted destination served a read"
# Refused by the target, not failed by a disk: no I/O error counted.
assert_eq 0 "$(hm_field hm-dst 32)" "io_errors of the destination after refusing I/O"
cycle_table hm-dst
assert_eq aborted "$(hm_field hm-dst 2)" "destination phase after suspend, reload and resume"
assert_eq tracking "$(hm_field hm-src 2)" "source phase after abort"
assert_eq none "$(hm_link_state hm-src)" "source link after abort"
assert_eq "$(hm_field hm-src 4)" "$(hm_field hm-src 5)" "every chunk dirty again after abort"
dd if=/dev/urandom of=/tmp/w bs=64k count=1 status=none
dd if=/tmp/w of=/dev/mapper/hm-src bs=64k seek=7 count=1 oflag=direct status=none ||
	fail "the source refused a write after abort"
# Byte for byte what the VM wrote, as if there had been no migration.
cp /tmp/hm-img-ref /tmp/hm-img-want
dd if=/tmp/w of=/tmp/hm-img-want bs=64k seek=7 count=1 conv=notrunc status=none
assert_eq "$(md5sum < /tmp/hm-img-want)" "$(md5sum < /tmp/hm-hm-src.img)" "source data after abort"

note "the aborted destination refuses a new migration"
must in_src dmsetup message hm-src 0 connect $DST_IP:7000 hybridmig:push
wait_for 20 link_error_is hm-src peer_aborted || fail "source error: $(dmsetup status hm-src)"
must dmsetup message hm-src 0 disconnect

note "a new destination gets everything"
make_pair x-src hm-dst2 16M 128
dmsetup remove x-src
must in_dst dmsetup message hm-dst2 0 listen $DST_IP:7100 hybridmig:push
must dmsetup message hm-src 0 set bandwidth 0
must in_src dmsetup message hm-src 0 connect $DST_IP:7100 hybridmig:push
wait_for 60 field_is hm-src 18 1 || fail "not ready: $(dmsetup status hm-src)"
wait_for 30 field_is hm-src 5 0 || fail "dirty: $(dmsetup status hm-src)"
must dmsetup message hm-src 0 handover
wait_for 30 field_is hm-dst2 2 complete || fail "not complete: $(dmsetup status hm-dst2)"
src_img=/tmp/hm-hm-src.img
assert_eq "$(md5sum < $src_img)" "$(md5sum < "$HM_DST_DATA")" "new destination's data"
no_protocol_errors
