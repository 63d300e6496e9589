#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 300
# The bandwidth limit holds: chunk data sent over a 10 s window is within 5%
# of the table's limit, then of a limit changed at run time; switching the
# limit back and forth lets no burst through; with no limit the push goes
# faster. Under a limit a frame carries at most 100 ms of it (here one to
# three 64 KiB chunks), so the counts move in small steps. The limits are
# low for a TCG guest on a busy CI host.
. "$HM_REPO/tests/vm/lib.sh"

command -v fio >/dev/null || fail "fio is not installed"
C=128
MIB=128
make_pair hm-src hm-dst $MIB $C start_clean bandwidth 1024
assert_eq 1024 "$(hm_field hm-src 27)" "bandwidth field"
assert_eq "0 $(sectors "$HM_SRC_DATA") hybridmig source $(lsblk -dno MAJ:MIN "$HM_SRC_DATA" | tr -d ' ') - $C 3 start_clean bandwidth 1024" \
	"$(dmsetup table hm-src)" "table"
# Random data (no ZERO frames) in runs of 4 chunks with a clean chunk
# between them: about 100 MiB dirty, in frames of 256 KiB: more than the
# limited windows below take, retried or not.
fio --filename=/dev/mapper/hm-src --direct=1 --name=fill --ioengine=libaio --iodepth=8 \
	--rw=write:64k --bs=256k --output-format=terse > /tmp/hm-fio-fill.out 2>&1 ||
	{ cat /tmp/hm-fio-fill.out; fail "fio fill"; }
dirty=$(hm_dirty hm-src)
[ "$dirty" -gt $((MIB * 12)) ] || fail "only $dirty chunks dirty after the fill"
make_hosts
link_pair hm-src hm-dst
wait_connected hm-src hm-dst

# measure <seconds> [early]: KiB/s of chunk data sent (data_bytes: what the
# limit paces; the acknowledged count lags by what is in flight) over a
# window, sampled at its ends (times of the status reads from bash's own
# clock); the acknowledged rate is shown too. With "early", stops when
# everything is pushed. Sets RATE.
measure() {
	local secs=$1 early=${2:-} t0 t1 b0 b1 a0 a1 end
	hm_snap_timed hm-src
	t0=$HM_T
	b0=${HM_F[23]}
	a0=${HM_F[22]}
	if [ -z "$early" ]; then
		sleep "$secs"
	else
		end=$(( $(now_ms) + secs * 1000 ))
		while [ "$(now_ms)" -lt "$end" ]; do
			sleep 0.5
			synced hm-src && break
		done
	fi
	hm_snap_timed hm-src
	t1=$HM_T
	b1=${HM_F[23]}
	a1=${HM_F[22]}
	RATE=$(( (b1 - b0) * 1000000 / 1024 / (t1 - t0) ))
	echo "window $(( (t1 - t0) / 1000 )) ms: $(( (b1 - b0) / 1024 )) KiB sent, $RATE KiB/s;" \
		"acked $(( (a1 - a0) * C * 1000000 / 2 / (t1 - t0) )) KiB/s; rate field ${HM_F[24]}, inflight ${HM_F[19]}"
}

# within <limit>: the rate over a 10 s window is within 5% of <limit>
# KiB/s. Above the limit fails at once; below it (a guest starved by a
# busy host falls behind any limit) the window is tried again, 3 times.
within() {
	local try
	for try in 1 2 3; do
		measure 10
		[ "$RATE" -le $(($1 * 105 / 100)) ] ||
			fail "$RATE KiB/s over the window, more than the limit $1 KiB/s: $(hm_push_line hm-src)"
		[ "$RATE" -lt $(($1 * 95 / 100)) ] || return 0
		echo "window $try: short of the limit"
	done
	fail "$RATE KiB/s over the window in 3 tries, limit $1 KiB/s: $(hm_push_line hm-src)"
}

note "limit 1024 KiB/s from the table"
sleep 2		# past any initial burst
within 1024
rate=$(hm_field hm-src 24)
if [ "$rate" -le 0 ] || [ "$rate" -gt 1536 ]; then
	fail "rate field $rate with a 1024 KiB/s limit"
fi

note "limit 2048 KiB/s set at run time"
must dmsetup message hm-src 0 set bandwidth 2048
assert_eq 2048 "$(hm_field hm-src 27)" "bandwidth field after set"
sleep 2
within 2048

note "limit switched between 512 and 256 KiB/s twice a second: no burst"
# What is owed at one limit is owed at the other: switching must not let
# a frame through at each change (that would be 20 frames over the limit).
( for i in $(seq 24); do
	dmsetup message hm-src 0 set bandwidth 512
	sleep 0.25
	dmsetup message hm-src 0 set bandwidth 256
	sleep 0.25
done ) &
flip=$!
at_exit "kill $flip"
sleep 1
measure 10
kill $flip 2>/dev/null
wait $flip
[ "$RATE" -le $((512 * 105 / 100)) ] ||
	fail "$RATE KiB/s while switching between 512 and 256 KiB/s: $(hm_push_line hm-src)"

note "no limit"
must dmsetup message hm-src 0 set bandwidth 0
assert_eq 0 "$(hm_field hm-src 27)" "bandwidth field after set 0"
measure 5 early
[ "$RATE" -gt $((2048 * 5 / 4)) ] || fail "unlimited push at only $RATE KiB/s"
wait_synced hm-src 120
assert_eq "$dirty" "$(hm_field hm-src 20)" "chunks sent"
compare_data "$HM_SRC_IMG" "$HM_DST_IMG" $C
