#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 300
# Pulls across reconnects: the destination's VM keeps reading missing
# chunks (a new reader every 25 ms) while the source's connections are
# killed again and again over a link with 40 ms of delay each way. A new
# session's control lane is up well before its SETUP arrives (the second
# lane's handshake takes a few round trips): a pull must not be sent, nor
# answered, in that gap. Each pull is answered once, in a session both ends
# have set up; every read returns the source's data; the link breaks only
# where it was cut. (Found by link-netem: a PULL sent in the gap was
# answered twice, or before SETUP, and the destination dropped the link
# with bad_frame.)
. "$HM_REPO/tests/vm/lib.sh"

make_hosts
must ip netns exec src tc qdisc add dev veth-s root netem delay 40ms
must ip netns exec dst tc qdisc add dev veth-d root netem delay 40ms
mib=16
chunk=64	# sectors: 32 KiB, 512 chunks
fill_random /tmp/hm-hm-src.img 0 $mib
# Policy postcopy and 64 KiB/s: nearly every chunk is still missing at the
# end, so nearly every read is a pull.
make_linked_pair hm-src hm-dst $mib $chunk policy postcopy bandwidth 64
wait_for 30 ready_is hm-src 1 || fail "source not ready: $(hm_push_line hm-src)"
must dmsetup message hm-src 0 handover
wait_for 30 field_is hm-dst 2 postcopy || fail "destination phase: $(hm_push_line hm-dst)"

# reader <n>: read one random 4 KiB block on the destination and compare it
# with the source's data; a mismatch or an error is written down.
reader() {
	local off=$((SRANDOM % (mib * 256))) got want
	got=$(dd if=/dev/mapper/hm-dst bs=4k skip=$off count=1 iflag=direct status=none |
	      md5sum) || { echo "read $1 (block $off) failed" >> /tmp/bad-reads; return; }
	want=$(dd if=/tmp/hm-hm-src.img bs=4k skip=$off count=1 status=none | md5sum)
	[ "$got" = "$want" ] || echo "read $1 (block $off): wrong data" >> /tmp/bad-reads
}
readers() {
	local n=0
	while :; do
		reader $n &
		n=$((n + 1))
		sleep 0.025
	done
}
rm -f /tmp/bad-reads
readers &
readers_pid=$!
at_exit "kill $readers_pid 2>/dev/null"

note "six kills from the source under a stream of reads"
kills=6
for i in $(seq $kills); do
	sleep 1
	must in_src ss -K dst $DST_IP > /dev/null
	wait_for 30 link_is hm-src connected || fail "no reconnect after kill $i: $(hm_push_line hm-src)"
	wait_for 30 link_is hm-dst connected || fail "destination not connected after kill $i"
done
sleep 1
kill $readers_pid
wait
pulls=$(hm_field hm-dst 29)
echo "pulls $pulls, reconnects $(hm_reconnects hm-src); $(hm_push_line hm-dst)"
[ "$pulls" -ge 50 ] || fail "only $pulls pulls: the reads did not reach missing chunks"
[ ! -s /tmp/bad-reads ] || fail "reads on the destination: $(head -n 3 /tmp/bad-reads)"
no_protocol_errors
[ "$(hm_reconnects hm-src)" -ge $kills ] || fail "$(hm_reconnects hm-src) reconnects for $kills kills"
[ "$(hm_reconnects hm-src)" -le $kills ] ||
	fail "the link broke more often than it was cut: $(hm_reconnects hm-src) reconnects, error $(hm_link_error hm-dst)"

note "the migration completes with the source's data"
must dmsetup message hm-src 0 set bandwidth 0
wait_for 120 field_is hm-dst 2 complete || fail "destination not complete: $(hm_push_line hm-dst)"
wait_for 30 field_is hm-src 2 complete || fail "source not complete: $(hm_push_line hm-src)"
compare_data /tmp/hm-hm-src.img "$HM_DST_IMG" $chunk
no_protocol_errors
