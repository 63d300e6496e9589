#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 300
# suite: extra (link-netem, push-faults and the soak heal the link the same ways, under load)
# The link heals by itself: after the veth goes down and up, and after its
# TCP connections are killed (ss -K) on either side, source and destination
# reconnect and re-authenticate without an operator.
. "$HM_REPO/tests/vm/lib.sh"

make_hosts
a=$(mkloop a 16)
b=$(mkloop b 16)
dm_create hm-src "0 $(sectors "$a") hybridmig source $a - 128"
dm_create hm-dst "0 $(sectors "$b") hybridmig dest $b - 128"
new_key hybridmig:k > /dev/null
must in_dst dmsetup message hm-dst 0 listen $DST_IP:7000 hybridmig:k
must in_src dmsetup message hm-src 0 connect $DST_IP:7000 hybridmig:k
wait_for 20 link_is hm-src connected || fail "not connected: $(dmsetup status hm-src)"
wait_for 20 link_is hm-dst connected || fail "destination not connected"

connected_again() {
	local want=$1
	wait_for 40 link_is hm-src connected || fail "source did not reconnect: $(dmsetup status hm-src)"
	wait_for 20 link_is hm-dst connected || fail "destination did not reconnect: $(dmsetup status hm-dst)"
	[ "$(hm_reconnects hm-src)" -ge "$want" ] || fail "source reconnects $(hm_reconnects hm-src) < $want"
	echo "reconnected: $(dmsetup status hm-src | cut -d' ' -f12-)"
}

note "link down for 12 s, then up"
must ip -n src link set veth-s down
wait_for 20 sh -c "! dmsetup status hm-src | grep -q ' connected '" ||
	fail "source did not notice the dead link: $(dmsetup status hm-src)"
wait_for 20 sh -c "! dmsetup status hm-dst | grep -q ' connected '" ||
	fail "destination did not notice the dead link: $(dmsetup status hm-dst)"
dmsetup status hm-src
must ip -n src link set veth-s up
connected_again 1

note "TCP connections killed on the source side"
must in_src ss -K dst $DST_IP
connected_again 2

note "TCP connections killed on the destination side"
must in_dst ss -K dst $SRC_IP
connected_again 3

note "repeated kills in quick succession"
for _ in 1 2 3 4 5; do
	in_src ss -K dst $DST_IP > /dev/null
	sleep 0.3
done
connected_again 4

# Busy: a stream of PINGs in flight on both lanes when the link breaks.
busy_start() {
	in_src dmsetup message hm-src 0 ping 1000000 > /tmp/hm-ping.out 2>&1 &
	busy=$!
	local f0
	f0=$(hm_field hm-src 15)
	wait_for 30 sh -c "[ \$(dmsetup status hm-src | cut -d' ' -f18) -gt $((f0 + 1000)) ]" ||
		fail "the link is not busy: $(dmsetup status hm-src)"
}
busy_end() {
	wait $busy && fail "ping went through a broken link: $(cat /tmp/hm-ping.out)"
	echo "ping ended: $(tail -n1 /tmp/hm-ping.out)"
}

note "TCP connections killed while busy"
busy_start
must in_src ss -K dst $DST_IP
busy_end
connected_again 9

note "link down while busy, then up"
busy_start
must ip -n src link set veth-s down
busy_end
must ip -n src link set veth-s up
connected_again 10

note "a busy link carries on after the faults"
in_src dmsetup message hm-src 0 ping 2000 > /tmp/hm-ping.out || fail "ping after recovery: $(cat /tmp/hm-ping.out)"
assert_eq 2000 "$(cat /tmp/hm-ping.out)" "PINGs sent per lane"
