#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# suite: extra
# timeout: 240
# The link breaks while the destination's writes are slow (dm-delay under
# its data device: 1.5 s per write), so writes of the old session complete
# after a new session is up. Their acknowledgements must not confuse the
# new session (no bad_frame, no extra reconnects), and nothing is lost:
# the destination ends byte-identical.
. "$HM_REPO/tests/vm/lib.sh"

command -v fio >/dev/null || fail "fio is not installed"
modprobe dm-delay 2>/dev/null
C=128
make_hosts
fill_random /tmp/hm-hm-src.img 0 16
must truncate -s 16M /tmp/hm-hm-src.img /tmp/hm-slow.img
src_data=$(losetup --show -f /tmp/hm-hm-src.img) || fail losetup
at_exit "losetup -d $src_data"
slow_data=$(losetup --show -f /tmp/hm-slow.img) || fail losetup
at_exit "losetup -d $slow_data"
size=$(sectors "$src_data")
dm_create hm-slow "0 $size delay $slow_data 0 0 $slow_data 0 1500"
dm_create hm-src "0 $size hybridmig source $src_data - $C"
dm_create hm-dst "0 $size hybridmig dest /dev/mapper/hm-slow - $C"
link_pair hm-src hm-dst
wait_connected hm-src hm-dst

# A writer keeps some chunks changing, so pushes of new content follow
# pushes whose acknowledgements are late.
fio_bg /tmp/hm-fio-slow.out --filename=/dev/mapper/hm-src --direct=1 --name=slow \
	--ioengine=psync --rw=randwrite --bs=4k --offset=$((64 * C * 512)) --size=$((32 * C * 512)) \
	--rate_iops=20 --time_based --runtime=600

for i in 1 2 3; do
	note "kill $i: TCP connections killed while destination writes are pending"
	wait_for 20 field_gt hm-src 19 0 || fail "nothing in flight: $(hm_push_line hm-src)"
	r0=$(hm_reconnects hm-src)
	must in_src ss -K dst $DST_IP > /dev/null
	wait_connected hm-src hm-dst 30
	# The old session's writes complete within ~1.5 s of the kill.
	sleep 6
	hm_push_line hm-src
	hm_push_line hm-dst
	r1=$(hm_reconnects hm-src)
	[ "$(hm_link_error hm-src)" != bad_frame ] ||
		fail "kill $i: the source saw a bad frame after the reconnect (a late ACK of the old session?): $(dmesg | grep hybridmig | tail -n 6)"
	[ $((r1 - r0)) -le 1 ] || fail "kill $i: $((r1 - r0)) reconnects for one kill: $(dmesg | grep 'lost:' | tail -n 4)"
done

kill "$FIO_PID"
wait "$FIO_PID" 2>/dev/null
wait_synced hm-src 120
must dmsetup suspend hm-slow
must dmsetup resume hm-slow
compare_data /tmp/hm-hm-src.img /tmp/hm-slow.img $C
