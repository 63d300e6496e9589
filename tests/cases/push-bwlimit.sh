#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 300
# The bandwidth limit holds: acknowledged chunk data over 10 s windows is
# within 5% of the table's limit, then of a limit changed at run time; with
# no limit the push goes faster.
. "$HM_REPO/tests/vm/lib.sh"

C=128
MIB=256
fill_random /tmp/hm-hm-src.img 0 $MIB	# random: no chunk is a ZERO frame
make_pair hm-src hm-dst $MIB $C bandwidth 4096
assert_eq 4096 "$(hm_field hm-src 27)" "bandwidth field"
assert_eq "0 $(sectors "$HM_SRC_DATA") hybridmig source $(lsblk -dno MAJ:MIN "$HM_SRC_DATA" | tr -d ' ') - $C 2 bandwidth 4096" \
	"$(dmsetup table hm-src)" "table"
make_hosts
link_pair hm-src hm-dst
wait_connected hm-src hm-dst

# acked_bytes: acknowledged chunk data so far (no chunk is all zeroes).
acked_bytes() {
	echo $(( $(hm_field hm-src 22) * C * 512 ))
}

# measure <seconds>: KiB/s of acknowledged data over a window; stops early
# when everything is pushed. Sets RATE.
measure() {
	local secs=$1 t0 t1 b0 b1 end
	t0=$(now_ms)
	b0=$(acked_bytes)
	end=$((t0 + secs * 1000))
	while [ "$(now_ms)" -lt "$end" ]; do
		sleep 0.5
		synced hm-src && break
	done
	t1=$(now_ms)
	b1=$(acked_bytes)
	RATE=$(( (b1 - b0) * 1000 / 1024 / (t1 - t0) ))
	echo "window $((t1 - t0)) ms: $(( (b1 - b0) / 1024 )) KiB acked, $RATE KiB/s (rate field $(hm_field hm-src 24))"
}

# within <limit>: RATE is within 5% of <limit> KiB/s.
within() {
	if [ "$RATE" -lt $(($1 * 95 / 100)) ] || [ "$RATE" -gt $(($1 * 105 / 100)) ]; then
		fail "$RATE KiB/s over the window, limit $1 KiB/s: $(hm_push_line hm-src)"
	fi
}

note "limit 4096 KiB/s from the table"
sleep 2		# past any initial burst
measure 10
within 4096
rate=$(hm_field hm-src 24)
if [ "$rate" -lt 2048 ] || [ "$rate" -gt 6144 ]; then
	fail "rate field $rate with a 4096 KiB/s limit"
fi

note "limit 6144 KiB/s set at run time"
must dmsetup message hm-src 0 set bandwidth 6144
assert_eq 6144 "$(hm_field hm-src 27)" "bandwidth field after set"
sleep 2
measure 10
within 6144

note "no limit"
must dmsetup message hm-src 0 set bandwidth 0
assert_eq 0 "$(hm_field hm-src 27)" "bandwidth field after set 0"
sleep 1
measure 5
[ "$RATE" -gt $((6144 * 3 / 2)) ] || fail "unlimited push at only $RATE KiB/s"
wait_synced hm-src 120
compare_data "$HM_SRC_IMG" "$HM_DST_IMG" $C
