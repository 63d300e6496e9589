#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 420
# A bad network under a whole migration: netem delay with jitter, loss,
# reordering and duplication on both sides of the link, and the TCP
# connections killed at random times (seeded: HM_SEED, printed) from
# either side, through the push under a writing VM, the handover, and a
# post-copy with a verified workload on the destination. The migration
# completes and the data is right; no frame is ever refused.
. "$HM_REPO/tests/vm/lib.sh"

seed=${HM_SEED:-$(( $(date +%s) % 100000 ))}
echo "seed $seed (HM_SEED=$seed repeats the kill times)"
RANDOM=$seed
make_hosts
netem="delay 8ms 4ms loss 2% duplicate 2% reorder 20% 50%"
must ip netns exec src tc qdisc add dev veth-s root netem $netem
must ip netns exec dst tc qdisc add dev veth-d root netem $netem
mib=24
chunk=64	# sectors: 32 KiB
fill_random /tmp/hm-hm-src.img 0 $mib
make_linked_pair hm-src hm-dst $mib $chunk bandwidth 1024

# Kill the link's connections every 2 to 6 s, from a random side.
killer() {
	local side
	while :; do
		sleep $((2 + RANDOM % 5))
		side=$((RANDOM % 2))
		if [ $side = 0 ]; then
			in_src ss -K dst $DST_IP > /dev/null 2>&1
		else
			in_dst ss -K dst $SRC_IP > /dev/null 2>&1
		fi
		echo "killed from $([ $side = 0 ] && echo source || echo destination) at $SECONDS s"
	done
}
killer &
killer_pid=$!
at_exit "kill $killer_pid"

note "push under a writing VM"
fio --filename=/dev/mapper/hm-src --name=w --rw=randwrite --bssplit=4k/40:32k/30:100k/30 \
	--blockalign=4k --direct=1 --ioengine=libaio --iodepth=4 --rate=256k \
	--runtime=20 --time_based --output=/tmp/fio-src.txt > /dev/null ||
	fail "writes on the source failed"
acked=$(hm_field hm-src 22)
[ "$acked" -gt 0 ] || fail "nothing acknowledged in 20 s: $(hm_push_line hm-src)"
echo "push: $(hm_push_line hm-src)"

note "handover through the faults"
must dmsetup message hm-src 0 set bandwidth 256
# The link may be down right now: handover needs it, and waits 30 s at most.
handed=0
for _ in 1 2 3 4 5; do
	wait_for 60 link_is hm-src connected || fail "source does not reconnect: $(hm_push_line hm-src)"
	if dmsetup message hm-src 0 handover 2>/dev/null; then
		handed=1
		break
	fi
	# Refused (link lost before it began) or still going: see the phase.
	[ "$(hm_field hm-src 2)" = tracking ] || { handed=1; break; }
done
[ $handed = 1 ] || fail "no handover in five tries: $(hm_push_line hm-src)"
wait_for 90 field_is hm-dst 2 postcopy || fail "destination phase: $(hm_push_line hm-dst)"
cp /tmp/hm-hm-src.img /tmp/expected.img
at_exit "rm -f /tmp/expected.img"

note "post-copy: a verified workload on the destination"
fio --filename=/dev/mapper/hm-dst --name=w --rw=randwrite --bsrange=4k-96k \
	--blockalign=4k --direct=1 --size=8M --offset=4M --ioengine=libaio --iodepth=4 \
	--verify=crc32c --verify_fatal=1 --do_verify=1 --randseed=$seed \
	--output=/tmp/fio-dst.txt > /dev/null || { cat /tmp/fio-dst.txt; fail "verified workload on the destination"; }
dd if=/dev/mapper/hm-dst of=/tmp/expected.img bs=1M skip=4 seek=4 count=8 iflag=direct \
	conv=notrunc status=none || fail "reading back the workload's data"
# Reads (pulls, through the kills) until the link has been killed twice
# more in post-copy.
reconn=$(hm_reconnects hm-src)
t0=$SECONDS
while [ "$(hm_reconnects hm-src)" -lt $((reconn + 2)) ]; do
	[ $((SECONDS - t0)) -lt 60 ] || fail "no two reconnects in 60 s of post-copy: $(hm_push_line hm-src)"
	off=$((RANDOM % mib))
	assert_eq "$(dd if=/tmp/expected.img bs=1M skip=$off count=1 status=none | md5sum)" \
		"$(dd if=/dev/mapper/hm-dst bs=1M skip=$off count=1 iflag=direct status=none | md5sum)" \
		"MiB $off read on the destination"
	sleep 1
done
[ "$(hm_field hm-dst 5)" -gt 0 ] || fail "post-copy ended before the kills: $(hm_push_line hm-dst)"
must dmsetup message hm-src 0 set bandwidth 0
wait_for 180 field_is hm-dst 2 complete || fail "destination not complete: $(hm_push_line hm-dst)"
kill $killer_pid
wait_for 60 field_is hm-src 2 complete || fail "source not complete: $(hm_push_line hm-src)"
hm_push_line hm-src
[ "$(hm_reconnects hm-src)" -ge 3 ] || fail "only $(hm_reconnects hm-src) reconnects: the faults did not bite"
compare_data /tmp/expected.img "$HM_DST_IMG" $chunk
no_protocol_errors
