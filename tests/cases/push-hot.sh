#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 300
# Hot chunks are deferred: a few chunks rewritten continuously during the
# push of a larger disk cross the wire over and over with no deferral
# (hot_threshold 0), but about once with deferral (hot_threshold 4): the
# re-sends (sent chunks beyond the disk's chunk count) of the deferral run
# are far fewer. Both runs end byte-identical.
. "$HM_REPO/tests/vm/lib.sh"

command -v fio >/dev/null || fail "fio is not installed"
C=128
MIB=32
SECS=8
make_hosts

# run <n> <hot_threshold>: a fresh pair; 8 hot chunks (4 KiB writes into
# chunks 100-107) for SECS seconds from the moment the link is up. Sets
# RESENT, MAX_DEFERRED, READY_SEEN.
run() {
	local n=$1 thr=$2 src=hm-s$1 dst=hm-d$1 d r
	note "run $n: hot_threshold $thr"
	fill_random /tmp/hm-$src.img 0 $MIB
	make_pair $src $dst $MIB $C hot_threshold "$thr"
	link_pair $src $dst $((7000 + n))
	wait_connected $src $dst
	fio_bg /tmp/hm-fio-hot$n.out --filename=/dev/mapper/$src --direct=1 --name=hot$n \
		--ioengine=psync --rw=randwrite --bs=4k --offset=$((100 * C * 512)) \
		--size=$((8 * C * 512)) --rate_iops=100 --time_based --runtime=$SECS
	MAX_DEFERRED=0
	READY_SEEN=0
	while kill -0 "$FIO_PID" 2>/dev/null; do
		sleep 0.5
		hm_snap $src
		d=${HM_F[26]}
		r=${HM_F[18]}
		[ "$d" -gt "$MAX_DEFERRED" ] && MAX_DEFERRED=$d
		# Ready while the hot chunks are still being written: only they are dirty.
		[ "$r" = 1 ] && [ "${HM_F[5]}" -gt 0 ] && READY_SEEN=1
	done
	wait "$FIO_PID" || { cat /tmp/hm-fio-hot$n.out; fail "fio run $n failed"; }
	hm_push_line $src
	wait_synced $src 90
	hm_snap $src
	RESENT=$(( HM_F[20] - HM_F[4] ))
	echo "run $n (hot_threshold $thr): $RESENT re-sent chunks, deferred up to $MAX_DEFERRED, ready while hot: $READY_SEEN"
	compare_data "$HM_SRC_IMG" "$HM_DST_IMG" $C
	must dmsetup remove $src
	must dmsetup remove $dst
}

run 1 0
resent_nodefer=$RESENT
assert_eq 0 "$MAX_DEFERRED" "deferred chunks with hot_threshold 0"
run 2 4
resent_defer=$RESENT
[ "$MAX_DEFERRED" -gt 0 ] || fail "no chunk deferred with hot_threshold 4"
[ "$MAX_DEFERRED" -le 8 ] || fail "$MAX_DEFERRED chunks deferred: only 8 are hot"
[ "$READY_SEEN" = 1 ] || fail "never ready while only hot chunks were dirty"
[ "$resent_nodefer" -ge 40 ] || fail "only $resent_nodefer re-sends without deferral: the workload is not hot enough to tell"
[ $((resent_defer * 2)) -lt "$resent_nodefer" ] ||
	fail "deferral re-sent $resent_defer chunks, no deferral $resent_nodefer: not far fewer"
