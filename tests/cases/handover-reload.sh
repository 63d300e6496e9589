#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 300
# The source is suspended while a handover is under way (phase handover:
# fenced, the precopy policy pushing its whole dirty set over a slow link
# before the switch). device-mapper lets a suspend wait for a message in
# progress, so the suspend returns once the handover has: neither blocks
# the other for good. Then resume and identical reloads, in whatever phase
# that is; the source stays fenced and the destination ends up with its
# data.
. "$HM_REPO/tests/vm/lib.sh"

make_hosts
# 150 ms each way: the handover's last pushes take a while to be ACKed.
must in_src tc qdisc add dev veth-s root netem delay 150ms
must in_dst tc qdisc add dev veth-d root netem delay 150ms
mib=16
make_linked_pair hm-src hm-dst $mib 128 policy precopy
dd if=/dev/urandom of=/dev/mapper/hm-src bs=1M count=$mib oflag=direct status=none ||
	fail "writing the source"
must dmsetup message hm-src 0 handover &
handover=$!
at_exit "kill $handover"
wait_for 10 field_is hm-src 2 handover || fail "no handover phase: $(hm_push_line hm-src)"
hm_push_line hm-src
t0=$(now_ms)
must dmsetup suspend hm-src
echo "suspend returned after $(( $(now_ms) - t0 )) ms: $(hm_push_line hm-src)"
wait $handover || fail "the handover failed under a suspend"
phase=$(hm_field hm-src 2)
case $phase in
postcopy|complete) ;;
*) fail "source phase after the handover: $phase" ;;
esac
must dmsetup resume hm-src
cycle_table hm-src
dd if=/dev/zero of=/dev/mapper/hm-src bs=4k count=1 oflag=direct status=none 2>/dev/null &&
	fail "the source accepted a write after handover"
wait_for 120 field_is hm-dst 2 complete || fail "destination not complete: $(hm_push_line hm-dst)"
wait_for 30 field_is hm-src 2 complete || fail "source not complete: $(hm_push_line hm-src)"
compare_data "$HM_SRC_IMG" "$HM_DST_IMG" 128
no_protocol_errors
