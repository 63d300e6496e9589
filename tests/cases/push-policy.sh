#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 180
# The policies: postcopy pushes nothing (ready once connected and set up)
# until switched to hybrid at run time; precopy never defers hot chunks and
# is ready once the dirty set is at most ready_chunks.
. "$HM_REPO/tests/vm/lib.sh"

command -v fio >/dev/null || fail "fio is not installed"
C=128

note "postcopy: nothing moves before handover"
fill_random /tmp/hm-hm-src.img 0 8
make_linked_pair hm-src hm-dst 8 $C policy postcopy
assert_eq postcopy "$(hm_field hm-src 17)" policy
wait_for 20 ready_is hm-src 1 || fail "postcopy source not ready once connected: $(hm_push_line hm-src)"
write_sectors /dev/mapper/hm-src $((5 * C + 1)) 8
sleep 3
hm_snap hm-src
assert_eq "128 0 0 0 1" "${HM_F[5]} ${HM_F[19]} ${HM_F[20]} ${HM_F[23]} ${HM_F[18]}" \
	"postcopy dirty inflight sent bytes ready"
assert_eq 128 "$(hm_field hm-dst 5)" "destination missing chunks under postcopy"
[ "$(alloc_bytes "$HM_DST_IMG")" = 0 ] || fail "postcopy wrote to the destination"

note "switched to hybrid at run time: the push starts"
must dmsetup message hm-src 0 set policy hybrid
wait_synced hm-src 60
assert_eq 128 "$(hm_field hm-src 20)" "sent chunks after the switch"
compare_data "$HM_SRC_IMG" "$HM_DST_IMG" $C
must dmsetup remove hm-src
must dmsetup remove hm-dst

note "precopy: hot chunks are pushed, not deferred; ready at ready_chunks"
fill_random /tmp/hm-hm-s2.img 0 8
HM_PORT=7001 make_linked_pair hm-s2 hm-d2 8 $C policy precopy ready_chunks 8 hot_threshold 2
assert_eq "precopy 2" "$(hm_field hm-s2 17) $(hm_field hm-s2 7)" "policy and hot_threshold"
wait_synced hm-s2 60
sent0=$(hm_field hm-s2 20)
# 4 chunks (40-43) rewritten continuously: hot at threshold 2, never deferred.
fio_bg /tmp/hm-fio-pre.out --filename=/dev/mapper/hm-s2 --direct=1 --name=pre \
	--ioengine=psync --rw=randwrite --bs=4k --offset=$((40 * C * 512)) \
	--size=$((4 * C * 512)) --rate_iops=100 --time_based --runtime=8
ready_seen=0
max_def=0
while kill -0 "$FIO_PID" 2>/dev/null; do
	sleep 0.5
	hm_snap hm-s2
	[ "${HM_F[26]}" -gt "$max_def" ] && max_def=${HM_F[26]}
	[ "${HM_F[18]}" = 1 ] && ready_seen=1
done
wait "$FIO_PID" || { cat /tmp/hm-fio-pre.out; fail "fio failed"; }
hm_push_line hm-s2
assert_eq 0 "$max_def" "deferred chunks under precopy"
[ "$(hm_field hm-s2 6)" -gt 0 ] || fail "the rewritten chunks did not count as hot"
[ "$ready_seen" = 1 ] || fail "precopy never ready with at most 4 chunks dirty and ready_chunks 8"
resent=$(( $(hm_field hm-s2 20) - sent0 ))
[ "$resent" -ge 40 ] || fail "precopy re-sent only $resent chunks of 4 hot ones in 8 s"
wait_synced hm-s2 60
compare_data "$HM_SRC_IMG" "$HM_DST_IMG" $C

