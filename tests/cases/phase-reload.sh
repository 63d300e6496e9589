#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 420
# Suspend/resume (with and without flush) and reloads of the identical
# table, on both ends, in every phase of a migration: source tracking
# with the destination waiting (a push under a writing VM), post-copy
# (a verified workload on the destination, reads of missing chunks),
# and complete. Each keeps the phase, the link (or it comes back by
# itself), the metadata, and the data: at the end the destination holds
# the source's data plus its own writes.
. "$HM_REPO/tests/vm/lib.sh"

make_hosts
mib=16
chunk=128	# sectors: 64 KiB
a=$(mkloop a $mib)
b=$(mkloop b $mib)
am=$(mkloop am 1)
bm=$(mkloop bm 1)
size=$(sectors "$a")
dd if=/dev/urandom of="$a" bs=1M count=$mib oflag=direct status=none
dm_create hm-src "0 $size hybridmig source $a $am $chunk 2 bandwidth 512"
dm_create hm-dst "0 $size hybridmig dest $b $bm $chunk"
link_pair hm-src hm-dst
wait_connected hm-src hm-dst

# cycle <dev> <phase>: suspend/resume, reload the live table, suspend
# --noflush/resume; the phase and the metadata state stay.
cycle() {
	local dev=$1 phase=$2
	cycle_table "$dev" field_is "$dev" 2 "$phase"
	hm_snap "$dev"
	assert_eq "$phase" "${HM_F[2]}" "$dev phase after suspend, reload and resume"
	assert_eq ok "${HM_F[31]}" "$dev metadata after suspend, reload and resume"
	assert_eq 0 "${HM_F[32]}" "$dev io_errors"
}

note "tracking / waiting: cycles on both ends under a pushing, writing source"
fio_bg /tmp/fio-src.txt --filename=/dev/mapper/hm-src --name=w --rw=randwrite \
	--bssplit=4k/50:64k/30:200k/20 --blockalign=4k --direct=1 --ioengine=libaio \
	--iodepth=4 --rate=512k --time_based --runtime=600
wait_for 20 field_gt hm-src 22 0 || fail "nothing acknowledged: $(hm_push_line hm-src)"
for i in 1 2; do
	cycle hm-src tracking
	cycle hm-dst waiting
	sleep 1
done
kill "$FIO_PID"
wait "$FIO_PID" 2>/dev/null
wait_connected hm-src hm-dst 60
must dmsetup message hm-src 0 set bandwidth 0
wait_synced hm-src 120
compare_data "$a" "$b" $chunk

note "post-copy: cycles on both ends under a verified workload on the destination"
# Prefetch at 32 KiB/s: the chunks the workload does not touch (5 MiB)
# stay missing through the cycles, however slowly the workload runs.
handover_all_dirty hm-src hm-dst $mib 32
cp /tmp/hm-a.img /tmp/expected.img
at_exit "rm -f /tmp/expected.img"
# The VM writes (and verifies) the first 8 MiB, whole and partial chunks;
# reads of the rest are pulls.
fio --filename=/dev/mapper/hm-dst --name=w --rw=randwrite --bsrange=4k-128k \
	--blockalign=4k --direct=1 --size=8M --ioengine=libaio --iodepth=4 \
	--verify=crc32c --verify_fatal=1 --do_verify=1 --randseed=11 \
	--output=/tmp/fio-dst.txt > /dev/null &
fio_pid=$!
at_exit "kill $fio_pid"
for i in 1 2; do
	cycle hm-dst postcopy
	cycle hm-src postcopy
	# The reloaded table's bandwidth replaces the one set by message.
	assert_eq 512 "$(hm_field hm-src 27)" "source bandwidth after a reload of its table"
	must dmsetup message hm-src 0 set bandwidth 32
	for off in 9 12 15; do
		assert_eq "$(dd if=/tmp/expected.img bs=1M skip=$off count=1 status=none | md5sum)" \
			"$(dd if=/dev/mapper/hm-dst bs=1M skip=$off count=1 iflag=direct status=none | md5sum)" \
			"MiB $off read on the destination after cycle $i"
	done
done
wait $fio_pid || { cat /tmp/fio-dst.txt; fail "the verified workload on the destination failed"; }
# Its data goes into the expected image.
dd if=/dev/mapper/hm-dst of=/tmp/expected.img bs=1M count=8 iflag=direct conv=notrunc status=none ||
	fail "reading back the workload's data"
[ "$(hm_field hm-dst 5)" -gt 0 ] || fail "post-copy ended too soon: $(dmsetup status hm-dst); $(dmsetup status hm-src)"
must dmsetup message hm-src 0 set bandwidth 0
wait_for 120 field_is hm-dst 2 complete || fail "destination not complete: $(hm_push_line hm-dst)"
wait_for 30 field_is hm-src 2 complete || fail "source not complete: $(hm_push_line hm-src)"

note "complete: cycles on both ends"
cycle hm-dst complete
cycle hm-src complete
assert_eq 0 "$(hm_field hm-dst 5)" "missing chunks after cycles when complete"
compare_data /tmp/expected.img "$b" $chunk
no_protocol_errors
