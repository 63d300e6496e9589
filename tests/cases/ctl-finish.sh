#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 180
# receive cuts a complete destination over to linear only once its source
# has heard of the completion: a source driven by dmsetup alone (no
# migrate to remove it), handed over with nothing left, so the destination
# completes at once, ends in phase complete too, not in post-copy retrying
# a destination that is linear by then.
. "$HM_REPO/tests/vm/lib.sh"

ctl=$HM_CTL
export HYBRIDMIG_RUN_DIR=/tmp/hm-run
make_hosts
a=$(mkloop src 8)
b=$(mkloop dst 8)
size=$(blockdev --getsize64 "$a")
new_key hybridmig:k > /dev/null
must "$ctl" create source vm2 "$a" --chunk-size 64K > /dev/null
dd if=/dev/urandom of=/dev/mapper/vm2 bs=1M count=8 oflag=direct status=none

note "receive on the destination; the source linked by dmsetup"
in_dst "$ctl" receive vm2-dst "$b" --size "$size" --chunk-size 64K \
	--listen $DST_IP:7000 --key hybridmig:k > /tmp/hm-recv.out 2> /tmp/hm-recv.err &
recv=$!
at_exit "kill $recv"
wait_for 20 eval 'link_is vm2-dst listening 2>/dev/null' ||
	fail "destination not listening: $(cat /tmp/hm-recv.err)"
must in_src dmsetup message vm2 0 connect $DST_IP:7000 hybridmig:k
wait_synced vm2 60

note "handover with nothing left: the destination completes at once"
must dmsetup message vm2 0 handover
wait_for 60 eval '! kill -0 $recv 2>/dev/null' || fail "receive still running: $(cat /tmp/hm-recv.out)"
wait $recv || fail "receive failed: $(cat /tmp/hm-recv.err)"
grep -q "^vm2-dst: complete; now linear over " /tmp/hm-recv.out || fail "receive's last line: $(cat /tmp/hm-recv.out)"
assert_eq complete "$(hm_field vm2 2)" "source phase once the destination is linear"
assert_eq "$(md5sum < "$a")" "$(md5sum < "$b")" "destination data"
