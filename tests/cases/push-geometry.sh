#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# suite: extra
# timeout: 240
# A destination of another length or chunk size is refused before any
# data moves: the source reports peer_geometry_mismatch, the destination
# geometry_mismatch, nothing is sent or written, neither side is ready.
# A destination of the right geometry then takes the push.
. "$HM_REPO/tests/vm/lib.sh"

make_hosts

# Failures recorded to be reported at the end, so that every case runs.
LATE=""
late_fail() {
	echo "LATER FAIL: $*"
	LATE="${LATE:+$LATE; }$*"
}

# mismatch <n> <what> <dst size> <dst chunk>: a 16 MiB, 64 KiB-chunk source
# against a destination of that geometry.
mismatch() {
	local n=$1 what=$2 src=hm-s$1 dst=hm-d$1 ev_s ev_d r0 r1
	note "$what"
	fill_random /tmp/hm-$src.img 0 1
	HM_DST_SIZE=$3 HM_DST_CHUNK=$4 make_pair $src $dst 16 128
	ev_s=$(dm_events $src)
	ev_d=$(dm_events $dst)
	link_pair $src $dst $((7000 + n))
	wait_for 30 link_error_is $src peer_geometry_mismatch ||
		fail "$what: source error: $(hm_push_line $src)"
	wait_for 20 link_error_is $dst geometry_mismatch ||
		fail "$what: destination error: $(hm_push_line $dst)"
	# The source retries, with a backoff: a handful of attempts in 5 s,
	# not a storm.
	r0=$(hm_reconnects $src)
	sleep 5
	r1=$(hm_reconnects $src)
	hm_push_line $src
	hm_push_line $dst
	[ $((r1 - r0)) -le 10 ] || late_fail "$what: $((r1 - r0)) reconnects in 5 s: no backoff"
	hm_snap $src
	assert_eq "0 0 0 0 0" \
		"${HM_F[18]} ${HM_F[19]} ${HM_F[20]} ${HM_F[22]} ${HM_F[23]}" \
		"$what: source ready inflight sent acked bytes"
	# Between retries the other lane may see the close first (peer_closed):
	# the kernel log says why each session was refused.
	[ "${HM_F[12]}" = peer_geometry_mismatch ] ||
		dmesg | grep -q "refused: peer_geometry_mismatch" ||
		fail "$what: source error ${HM_F[12]}, and no geometry refusal logged"
	assert_eq 256 "${HM_F[5]}" "$what: source dirty chunks"
	hm_snap $dst
	assert_eq "0 0 0 0" "${HM_F[18]} ${HM_F[20]} ${HM_F[22]} ${HM_F[23]}" \
		"$what: destination ready received written bytes"
	[ "${HM_F[12]}" = geometry_mismatch ] ||
		late_fail "$what: destination last_error ${HM_F[12]}, not geometry_mismatch, while the geometry is why the link drops"
	assert_eq "${HM_F[4]}" "${HM_F[5]}" "$what: destination missing chunks"
	[ "$(alloc_bytes "$HM_DST_IMG")" = 0 ] || fail "$what: data written to the destination"
	[ "$(dm_events $src)" -gt "$ev_s" ] || fail "$what: no dm event on the source"
	[ "$(dm_events $dst)" -gt "$ev_d" ] || fail "$what: no dm event on the destination"
	dmesg | grep -i 'length or chunk size\|the source has' | tail -n 2
	# The source keeps retrying; a destination of the right geometry, on
	# the same address, takes the push without an operator.
	must dmsetup remove $dst
	must truncate -s 16M "$HM_DST_IMG"
	must losetup -c "$HM_DST_DATA"
	dm_create $dst "0 $(sectors "$HM_DST_DATA") hybridmig dest $HM_DST_DATA - 128"
	must in_dst dmsetup message $dst 0 listen $DST_IP:$((7000 + n)) hybridmig:push
	wait_connected $src $dst 60
	wait_synced $src 60
	assert_eq 1 "$(hm_field $src 18)" "$what: source ready after the right destination"
	assert_eq "0 1" "$(hm_field $dst 5) $(hm_field $dst 18)" "$what: destination missing and ready"
	compare_data "$HM_SRC_IMG" "$HM_DST_IMG" 128
	must dmsetup remove $src
	must dmsetup remove $dst
}

mismatch 1 "destination 64 KiB longer" $((16 * 1024 + 64))K 128
mismatch 2 "destination 512 B shorter" $((16 * 1024 * 1024 - 512))B 128
mismatch 3 "destination chunk 128 KiB" 16 256
mismatch 4 "destination chunk 4 KiB" 16 8
[ -z "$LATE" ] || fail "$LATE"
