#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 420
# Handover and completion (hybrid and precopy): a write to the destination
# before handover is held, and fails once HM_HANDOVER_WAIT (30 s) passes
# with no handover; at handover the source is fenced (writes fail, reads
# work), the held write goes through, hot chunks deferred by the push cross
# in post-copy; both ends complete, raise events, and the destination
# holds exactly the source's data plus its own write; cut-over to linear.
# precopy hands over with nothing left to pull.
. "$HM_REPO/tests/vm/lib.sh"

chunk=128	# 64 KiB
make_linked_pair hm-src hm-dst 32M $chunk hot_threshold 2
a=$HM_SRC_DATA
b=$HM_DST_DATA
size=$(sectors "$a")
dd if=/dev/urandom of=/dev/mapper/hm-src bs=1M count=32 oflag=direct status=none

note "a write to the destination is held before handover, and fails after 30 s"
# It waits in the background while the push below runs (the handover
# comes after it has failed).
t0=$(now_ms)
( if dd if=/dev/zero of=/dev/mapper/hm-dst bs=4k count=1 oflag=direct status=none 2>/dev/null; then
	echo succeeded; else echo $(( $(now_ms) - t0 )); fi > /tmp/held ) &
held_pid=$!

note "push with a hot spot: hot chunks are deferred"
wait_for 90 field_is hm-src 18 1 || fail "not ready: $(dmsetup status hm-src)"
fio --filename=/dev/mapper/hm-src --name=hot --rw=randwrite --bs=4k --direct=1 \
	--offset=4M --size=512k --ioengine=psync --time_based --runtime=4 > /dev/null ||
	fail "hot-spot writer"
# deferred_chunks: the hot chunks the last whole pass skipped. With one
# vCPU the pusher hardly runs beside the writer, and ends a pass only once
# the writer has stopped.
wait_for 10 field_gt hm-src 26 0 || fail "no hot chunk deferred: $(dmsetup status hm-src)"
dmsetup status hm-src

# While the held write waits out its 30 s (hm-src and hm-dst stay as they
# are meanwhile; the checks below take $a and $b, not HM_*_DATA).
note "precopy: nothing left to pull at handover"
HM_PORT=7100 make_linked_pair pc-src pc-dst 16M $chunk policy precopy
dd if=/dev/urandom of=/dev/mapper/pc-src bs=1M count=16 oflag=direct status=none
fio --filename=/dev/mapper/pc-src --name=w --rw=randwrite --bs=4k --direct=1 \
	--size=16M --ioengine=psync --time_based --runtime=3 --rate=400k > /dev/null || fail "writer"
wait_for 90 field_is pc-src 18 1 || fail "precopy not ready: $(dmsetup status pc-src)"
must dmsetup message pc-src 0 handover
wait_for 10 field_is pc-dst 2 complete || fail "precopy destination not complete at handover: $(dmsetup status pc-dst)"
assert_eq 0 "$(hm_field pc-dst 29)" "pulls after a precopy handover"
assert_eq "$(md5sum < "$HM_SRC_DATA")" "$(md5sum < "$HM_DST_DATA")" "precopy destination data"
no_protocol_errors

wait $held_pid
held=$(cat /tmp/held)
[ "$held" != succeeded ] || fail "a write before handover succeeded"
echo "the write before handover was held for $held ms"
[ "$held" -ge 29000 ] || fail "the write failed after $held ms, not after 30 s"

note "handover"
dd if=/dev/urandom of=/tmp/mine bs=64k count=1 status=none
ev_src=$(dm_events hm-src)
ev_dst=$(dm_events hm-dst)
t0=$(now_ms)
dd if=/tmp/mine of=/dev/mapper/hm-dst bs=64k seek=200 count=1 oflag=direct status=none &
w=$!
sleep 1
must dmsetup message hm-src 0 handover
wait $w || fail "the held write failed across the handover"
echo "handover: from the held write's start $(( $(now_ms) - t0 )) ms (1 s of it waiting);" \
	"source fence to ack $(hm_field hm-src 28) us, destination switch $(hm_field hm-dst 28) us"
case $(hm_field hm-src 2) in
postcopy|complete) ;;	# a few chunks to pull can be done already
*) fail "source phase after handover: $(dmsetup status hm-src)";;
esac
dd if=/dev/zero of=/dev/mapper/hm-src bs=4k count=1 oflag=direct status=none 2>/dev/null &&
	fail "the source accepted a write after handover"
dd if=/dev/mapper/hm-src of=/dev/null bs=64k count=4 iflag=direct status=none ||
	fail "the source refused a read after handover"
dmsetup message hm-src 0 handover 2>/dev/null && fail "a second handover was accepted"
dmsetup message hm-src 0 abort 2>/dev/null && fail "abort after handover was accepted"
[ "$(dm_events hm-src)" -gt "$ev_src" ] || fail "no event on the source at handover"
[ "$(dm_events hm-dst)" -gt "$ev_dst" ] || fail "no event on the destination at handover"

note "completion"
cp "$a" /tmp/expect
dd if=/tmp/mine of=/tmp/expect bs=64k seek=200 conv=notrunc status=none
wait_for 120 field_is hm-dst 2 complete || fail "destination not complete: $(dmsetup status hm-dst)"
wait_for 30 field_is hm-src 2 complete || fail "source not complete: $(dmsetup status hm-src)"
dmsetup status hm-src
dmsetup status hm-dst
assert_eq 0 "$(hm_field hm-dst 5)" "missing chunks at completion"
assert_eq "$(md5sum < /tmp/expect)" "$(md5sum < "$b")" "destination data at completion"
no_protocol_errors

note "cut-over: the destination becomes linear, the source goes"
must dmsetup message hm-dst 0 disconnect
must dmsetup reload hm-dst --table "0 $size linear $b 0"
must dmsetup resume hm-dst
assert_eq "$(md5sum < /tmp/expect)" "$(dd if=/dev/mapper/hm-dst bs=1M iflag=direct status=none | md5sum)" \
	"linear destination"
must dmsetup remove hm-src
