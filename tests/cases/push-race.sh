#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 300
# Invariant 2 under stress: with no deferral (hot_threshold 0), chunks that
# a writer hammers are pushed over and over, each push racing the writes
# to the same chunk. Whatever the interleaving, once the writes stop the
# destination is byte-identical: a write that lands while its chunk is read
# or in flight is never lost.
. "$HM_REPO/tests/vm/lib.sh"

command -v fio >/dev/null || fail "fio is not installed"
C=8				# 4 KiB chunks
fill_random /tmp/hm-hm-src.img 0 2
make_linked_pair hm-src hm-dst 2 $C hot_threshold 0
assert_eq 0 "$(hm_field hm-src 7)" hot_threshold
total=$(hm_field hm-src 4)
assert_eq 512 "$total" total_chunks
wait_synced hm-src 60

# hammer <iteration> <seconds> <fio jobs: --name=... job args...>
hammer() {
	local it=$1 secs=$2 sent0 sent1
	shift 2
	note "iteration $it: $*"
	sent0=$(hm_field hm-src 20)
	fio --filename=/dev/mapper/hm-src --direct=1 --rw=randwrite --time_based \
		--runtime="$secs" --randseed=$((it * 7919)) --output-format=terse \
		"$@" > /tmp/hm-fio-race.out 2>&1 ||
		{ cat /tmp/hm-fio-race.out; fail "fio iteration $it failed"; }
	hm_push_line hm-src
	sent1=$(hm_field hm-src 20)
	# The same few chunks went across many times while being written.
	[ $((sent1 - sent0)) -ge 50 ] ||
		fail "iteration $it: only $((sent1 - sent0)) chunks pushed while hammering"
	wait_synced hm-src 60
	hm_snap hm-src
	assert_eq "${HM_F[20]}" "${HM_F[22]}" "iteration $it: acked == sent"
	compare_data "$HM_SRC_IMG" "$HM_DST_IMG" $C
}

# Jobs: 512 B writes into chunks 16-19, 1.5-6 KiB writes at 512 B offsets
# straddling chunks 300-306, whole-chunk rewrites of chunks 510-511.
sub="--ioengine=libaio --iodepth=4 --bs=512 --offset=64k --size=16k"
straddle="--ioengine=libaio --iodepth=8 --bsrange=1536-6k --blockalign=512 --offset=$((300 * 4096 + 1024)) --size=24k"
whole="--ioengine=psync --bs=4k --offset=$((510 * 4096)) --size=8k"
# shellcheck disable=SC2086
{
	hammer 1 6 --name=sub $sub --numjobs=2
	hammer 2 6 --name=straddle $straddle
	hammer 3 5 --name=whole $whole
	hammer 4 8 --name=sub $sub --name=straddle $straddle --name=whole $whole
}
