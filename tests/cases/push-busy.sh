#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 300
# The push keeps up with a guest writing while it runs: random writes of
# many sizes (512 B to 192 KiB, sub-chunk and chunk-straddling, offsets not
# chunk-aligned) at two rates on the source. The dirty set stays bounded,
# the push makes progress, and once the writes stop the destination ends up
# byte-identical.
. "$HM_REPO/tests/vm/lib.sh"

command -v fio >/dev/null || fail "fio is not installed"
C=128
MIB=48
fill_random /tmp/hm-hm-src.img 0 $MIB
make_linked_pair hm-src hm-dst $MIB $C
total=$(hm_field hm-src 4)
wait_for 120 ready_is hm-src 1 ||
	fail "initial push not done: $(hm_push_line hm-src)"
hm_push_line hm-src

# busy_run <name> <rate> <seconds>: fio at <rate> on the source while
# sampling the dirty set every second.
busy_run() {
	local name=$1 rate=$2 secs=$3 max=0 d sent0 sent1 samples=0
	note "fio $name at $rate for $secs s"
	sent0=$(hm_field hm-src 20)
	fio_bg /tmp/hm-fio-$name.out --filename=/dev/mapper/hm-src --direct=1 \
		--name="$name" --ioengine=libaio --iodepth=4 --rw=randwrite \
		--bssplit=512/10:4k/35:12k/15:64k/15:100k/15:192k/10 --blockalign=512 \
		--rate="$rate" --time_based --runtime="$secs" --randseed=$RANDOM
	while kill -0 "$FIO_PID" 2>/dev/null; do
		sleep 1
		d=$(hm_dirty hm-src)
		samples=$((samples + 1))
		[ "$d" -gt "$max" ] && max=$d
	done
	wait "$FIO_PID" || { cat /tmp/hm-fio-$name.out; fail "fio $name failed"; }
	sent1=$(hm_field hm-src 20)
	echo "$name: $samples samples, max dirty $max of $total, sent $((sent1 - sent0)) chunks meanwhile"
	hm_push_line hm-src
	[ "$samples" -ge $((secs / 2)) ] || fail "$name: only $samples samples"
	[ "$max" -gt 0 ] || fail "$name: the writes dirtied nothing that status saw"
	[ "$max" -lt $((total * 2 / 3)) ] || fail "$name: dirty reached $max of $total chunks: the push does not keep up"
	[ $((sent1 - sent0)) -ge "$max" ] || fail "$name: only $((sent1 - sent0)) chunks pushed while writing"
}

busy_run slow 1m 10
# The fast rate is set by the emulator: its push (AES-GCM under TCG)
# moves 3-5 MiB/s on a quiet host; random writes of many sizes at 3 MiB/s
# dirty chunks about as fast as that.
busy_run fast 3m 15
wait_synced hm-src 90
hm_snap hm-src
assert_eq "${HM_F[20]}" "${HM_F[22]}" "acked == sent after the writes"
assert_eq 1 "${HM_F[18]}" "ready after the writes"
assert_eq - "${HM_F[12]}" "source last error"
compare_data "$HM_SRC_IMG" "$HM_DST_IMG" $C
