#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 240
# auto_handover (a destination option, for hypervisors with no hook at
# switch-over): the VM's first write on the destination asks the source to
# hand over; the source fences itself first, then the write goes through.
# The option is refused on a source and echoed in the table.
. "$HM_REPO/tests/vm/lib.sh"

make_hosts
a=$(mkloop a 8)
expect_fail() {
	dmsetup create hm-bad --table "$1" 2>/dev/null && { dmsetup remove hm-bad; fail "accepted: $1"; }
	dmesg | tail -n 3 | grep -q "$2" || fail "no '$2' for: $1"
}
expect_fail "0 $(sectors "$a") hybridmig source $a - 128 1 auto_handover" \
	"auto_handover is an option of a destination"

make_pair hm-src hm-dst 16M 128
dmsetup remove hm-dst
size=$(sectors "$HM_DST_DATA")
dm_create hm-dst "0 $size hybridmig dest $HM_DST_DATA - 128 1 auto_handover"
assert_eq "0 $size hybridmig dest $(lsblk -dno MAJ:MIN "$HM_DST_DATA" | tr -d ' ') - 128 1 auto_handover" \
	"$(dmsetup table hm-dst)" "destination table"
dd if=/dev/urandom of=/dev/mapper/hm-src bs=1M count=16 oflag=direct status=none
link_pair hm-src hm-dst
wait_connected hm-src hm-dst
wait_for 60 field_is hm-src 18 1 || fail "not ready: $(dmsetup status hm-src)"

note "the destination's first write hands over"
dd if=/dev/urandom of=/tmp/w bs=4k count=1 status=none
t0=$(now_ms)
dd if=/tmp/w of=/dev/mapper/hm-dst bs=4k seek=33 count=1 oflag=direct status=none ||
	fail "the first write on the destination failed"
echo "first write took $(( $(now_ms) - t0 )) ms, handover $(hm_field hm-src 28) us at the source"
case $(hm_field hm-src 2) in
postcopy|complete) ;;
*) fail "source not handed over: $(dmsetup status hm-src)";;
esac
dd if=/dev/zero of=/dev/mapper/hm-src bs=4k count=1 oflag=direct status=none 2>/dev/null &&
	fail "the source accepted a write after the automatic handover"
dmesg | grep -q "handover requested" || fail "no request in the kernel log"
cp "$HM_SRC_DATA" /tmp/expect
dd if=/tmp/w of=/tmp/expect bs=4k seek=33 conv=notrunc status=none
wait_for 60 field_is hm-dst 2 complete || fail "not complete: $(dmsetup status hm-dst)"
assert_eq "$(md5sum < /tmp/expect)" "$(md5sum < "$HM_DST_DATA")" "destination data"
no_protocol_errors
