#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 300
# Crash consistency of the destination's metadata (issue 6): the data and
# metadata devices of a destination both sit on one dm-log-writes device
# (two dm-linear areas over it, so that the log has one order for both), a
# migration with real post-copy work runs to completion, and every
# flush/FUA point of the log - every state a crash could leave - is
# replayed and checked by tests/tools/hm-logwrites.py: a valid superblock
# of this destination once formatted, a state that only goes forward, and
# in postcopy every chunk the bitmap calls present holds the source's data
# (in complete, every chunk). Then a sample of those states is opened as a
# destination again: it must load, in a sane phase, and in postcopy with
# as many missing chunks as the replayed bitmap has bits set.
# The checker's model is two devices, as in production: a flush belonging
# to a superblock write does not make data writes durable (one log device
# cannot tell the two flushes apart by itself; see hm-logwrites.py).
. "$HM_REPO/tests/vm/lib.sh"

modprobe dm-log-writes 2>/dev/null || skip "no dm-log-writes module"
tool=$HM_REPO/tests/tools/hm-logwrites.py
chunk=128			# 64 KiB
mib=16
data_sectors=$((mib * 2048))	# the data area at sector 0 of the logged device
meta_off=$data_sectors		# then 1 MiB for the metadata (12 KiB are used)
meta_sectors=2048
areas="--data 0:$data_sectors --meta $meta_off:$meta_sectors --chunk $chunk"

make_hosts
src=$(mkloop src $mib)
# Random data, and a zero tail: zero chunks cross as write-zeroes.
dd if=/dev/urandom of="$src" bs=1M count=$((mib - 4)) oflag=direct status=none ||
	fail "fill the source"
# The destination's one disk (data, then metadata) and the log of its
# writes. Both start as zeroes, which is where the replay starts too.
disk=$(mkloop disk $((mib + 1)))
log=$(mkloop log 96)
dm_create hm-lw "0 $(sectors "$disk") log-writes $disk $log"
dm_create hm-ddata "0 $data_sectors linear /dev/mapper/hm-lw 0"
dm_create hm-dmeta "0 $meta_sectors linear /dev/mapper/hm-lw $meta_off"

# A slow push (512 KiB/s): a part of the disk crosses before the handover,
# and the source writes during the push, so some chunks go twice and the
# handover map is a real mix; most of the disk is left for post-copy.
dm_create hm-src "0 $data_sectors hybridmig source $src - $chunk 2 bandwidth 512"
dm_create hm-dst "0 $data_sectors hybridmig dest /dev/mapper/hm-ddata /dev/mapper/hm-dmeta $chunk"
assert_eq ok "$(hm_field hm-dst 31)" "destination metadata state"
new_key hybridmig:k > /dev/null
must in_dst dmsetup message hm-dst 0 listen $DST_IP:7000 hybridmig:k
must in_src dmsetup message hm-src 0 connect $DST_IP:7000 hybridmig:k
wait_connected hm-src hm-dst

note "push, with the source writing"
fio --filename=/dev/mapper/hm-src --name=w --rw=randwrite --bs=4k --direct=1 \
	--size=12M --ioengine=psync --time_based --runtime=2 --rate=1m > /dev/null ||
	fail "writer on the source"
sleep 1
hm_push_line hm-src

note "handover; reads on the destination pull, the prefetch does the rest"
must dmsetup message hm-src 0 handover
wait_for 10 field_is hm-dst 2 postcopy || fail "destination phase: $(dmsetup status hm-dst)"
echo "missing at handover: $(hm_field hm-dst 5)"
[ "$(hm_field hm-dst 5)" -gt 32 ] || fail "too little left for post-copy: $(hm_push_line hm-src)"
# Reads only: the destination's VM must not write here, so that what a
# present chunk must hold is the source's data, which is fenced now.
for off in 13 5 9 1; do
	dd if=/dev/mapper/hm-dst of=/dev/null bs=1M skip=$off count=1 iflag=direct status=none ||
		fail "read of MiB $off on the destination"
done
[ "$(hm_field hm-dst 29)" -gt 0 ] || fail "no pulls: $(dmsetup status hm-dst)"
# Faster now, but still a commit every few chunks: many points to check.
must dmsetup message hm-src 0 set bandwidth 2048
wait_for 120 field_is hm-dst 2 complete || fail "destination not complete: $(dmsetup status hm-dst)"
wait_for 30 field_is hm-src 2 complete || fail "source not complete: $(dmsetup status hm-src)"
dmsetup status hm-dst
assert_eq ok "$(hm_field hm-dst 31)" "destination metadata state at completion"
no_protocol_errors
compare_data "$src" /dev/mapper/hm-ddata $chunk

note "stop logging"
lw_status=$(dmsetup status hm-lw)
echo "log-writes: $lw_status"
case $lw_status in
*logging_disabled*) fail "the log overflowed or failed: $lw_status";;
esac
must dmsetup remove hm-dst
must dmsetup remove hm-ddata
must dmsetup remove hm-dmeta
# The log's superblock gets its final entry count when the device goes.
must dmsetup remove hm-lw
cp /tmp/hm-src.img /tmp/hm-cc-source.img || fail "copy of the source image"

note "every flush/FUA point of the log"
# The checker's default model is two devices, as a destination has them:
# a superblock's preflush does not make data writes durable. If that
# fails, the one-device model (every flush flushes both) tells whether
# only a missing flush of the data device is to blame; the sample below
# then uses its points, and the test fails at the end.
model=()
verdict=
if ! python3 "$tool" check "$log" $areas --source /tmp/hm-cc-source.img \
	--points /tmp/hm-cc-points --min-points 20 > /tmp/hm-cc-check 2>&1; then
	cat /tmp/hm-cc-check
	verdict="a crash point is inconsistent: $(grep -m1 '^FAIL' /tmp/hm-cc-check)"
	# Keep the log and the source for a look on the host.
	if [ -n "${HM_RESULTS-}" ]; then
		dd if="$log" of="$HM_RESULTS/crash-consistency.log-writes" bs=1M \
			count=$(( ($(echo "$lw_status" | awk '{print $5}') + 2047) / 2048 + 1 )) status=none
		cp /tmp/hm-cc-source.img "$HM_RESULTS/crash-consistency.source.img"
	fi
	model=(--shared-flush)
	note "the same log with one flush for both areas"
	python3 "$tool" check "$log" $areas --source /tmp/hm-cc-source.img "${model[@]}" \
		--points /tmp/hm-cc-points --min-points 20 ||
		fail "a crash point is inconsistent even when a flush covers both areas (above)"
else
	cat /tmp/hm-cc-check
fi

note "a sample of the points opens as a destination again"
# Up to 4 points evenly spread (the first, blank, and the last, complete,
# among them), plus the last post-copy one: the checker above has checked
# every point; these show that the state replayed opens.
total=$(wc -l < /tmp/hm-cc-points)
last_pc=$(awk '$2 == "postcopy" { n = NR } END { print n }' /tmp/hm-cc-points)
sample=$( (for i in 0 1 2 3; do echo $((1 + i * (total - 1) / 3)); done
	echo "$last_pc") | sort -nu)
entries=$(for n in $sample; do sed -n "${n}p" /tmp/hm-cc-points | cut -d' ' -f1; done | paste -sd,)
must python3 "$tool" dump "$log" $areas "${model[@]}" --entries "$entries" --out-dir /tmp/hm-cc-points.d > /dev/null
for n in $sample; do
	read -r entry phase missing gen <<< "$(sed -n "${n}p" /tmp/hm-cc-points)"
	img=/tmp/hm-cc-points.d/point-$entry.img
	d=$(losetup --show -f --sizelimit $((data_sectors * 512)) "$img") || fail "losetup $img"
	m=$(losetup --show -f -o $((meta_off * 512)) --sizelimit $((meta_sectors * 512)) "$img") ||
		fail "losetup $img (metadata)"
	dmsetup create hm-replay --table "0 $data_sectors hybridmig dest $d $m $chunk" ||
		fail "entry $entry ($phase, generation $gen): the replayed state does not load: $(dmesg | tail -n 3)"
	got_phase=$(hm_field hm-replay 2)
	got_missing=$(hm_field hm-replay 5)
	echo "entry $entry: replayed $phase (generation $gen, missing $missing), loads as $got_phase, $got_missing missing"
	case $phase in
	blank) assert_eq waiting "$got_phase" "entry $entry: phase of a new destination";;
	postcopy) assert_eq "$missing" "$got_missing" "entry $entry: missing chunks in postcopy";;
	complete) assert_eq 0 "$got_missing" "entry $entry: missing chunks when complete";;
	esac
	[ "$phase" = blank ] || assert_eq "$phase" "$got_phase" "entry $entry: phase"
	assert_eq ok "$(hm_field hm-replay 31)" "entry $entry: metadata state"
	must dmsetup remove hm-replay
	losetup -d "$d" "$m"
	rm -f "$img"
done
[ -z "$verdict" ] || fail "$verdict"
