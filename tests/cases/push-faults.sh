#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 300
# Invariant 3: the link breaks mid-push again and again (veth down on either
# side, TCP connections killed, an operator's disconnect) while a guest
# writes. Chunks in flight when the link dies are dirty again (nothing is
# left in flight), the push resumes on reconnect, and at the end the
# destination is byte-identical.
. "$HM_REPO/tests/vm/lib.sh"

command -v fio >/dev/null || fail "fio is not installed"
C=128
MIB=32
fill_random /tmp/hm-hm-src.img 0 $MIB
# A bandwidth limit keeps the push busy through the faults.
make_linked_pair hm-src hm-dst $MIB $C bandwidth 3072

fio_bg /tmp/hm-fio-faults.out --filename=/dev/mapper/hm-src --direct=1 --name=faults \
	--ioengine=libaio --iodepth=2 --rw=randwrite --bssplit=4k/50:64k/30:136k/20 \
	--blockalign=512 --rate=256k --time_based --runtime=600

# pushing: the acked count moves.
pushing() {
	local a0
	a0=$(hm_field hm-src 22)
	wait_for 30 field_gt hm-src 22 "$a0" ||
		fail "$1: the push does not move: $(hm_push_line hm-src)"
}
not_connected() {
	! link_is "$1" connected
}
# dead: the source saw the link go; nothing of it is left in flight.
dead() {
	wait_for 40 not_connected hm-src ||
		fail "$1: the source did not notice: $(hm_push_line hm-src)"
	wait_for 10 field_is hm-src 19 0 ||
		fail "$1: chunks still in flight on a dead link: $(hm_push_line hm-src)"
	hm_push_line hm-src
}
healed() {
	wait_connected hm-src hm-dst 60
	pushing "$1 (after reconnect)"
	echo "$1: healed: $(hm_push_line hm-src)"
}

pushing "start"
sleep 2

note "source veth down until the source notices, then 2 s more"
must ip -n src link set veth-s down
dead "source veth down"
sleep 2
must ip -n src link set veth-s up
healed "source veth"
[ "$(hm_reconnects hm-src)" -ge 1 ] || fail "reconnects $(hm_reconnects hm-src) after a link loss"

note "destination veth down"
must ip -n dst link set veth-d down
dead "destination veth down"
must ip -n dst link set veth-d up
healed "destination veth"

note "TCP connections killed, three times in a row"
for _ in 1 2 3; do
	must in_src ss -K dst $DST_IP
	sleep 1
done
healed "ss -K"

hm_snap hm-src
[ "${HM_F[11]}" -ge 3 ] || fail "reconnects ${HM_F[11]} after three link losses"

note "operator disconnect and connect (the link's counters start again)"
must dmsetup message hm-src 0 disconnect
hm_snap hm-src
assert_eq 0 "${HM_F[19]}" "inflight chunks after a disconnect"
must in_src dmsetup message hm-src 0 connect $DST_IP:7000 hybridmig:push
healed "disconnect"

note "destination side restarts listening"
must dmsetup message hm-dst 0 disconnect
dead "destination disconnect"
must in_dst dmsetup message hm-dst 0 listen $DST_IP:7000 hybridmig:push
healed "listen again"

kill "$FIO_PID"
wait "$FIO_PID" 2>/dev/null
must dmsetup message hm-src 0 set bandwidth 0
wait_synced hm-src 120
hm_push_line hm-dst
hm_snap hm-src
[ "${HM_F[11]}" -ge 1 ] || fail "reconnects ${HM_F[11]} after the destination came back"
[ "${HM_F[22]}" -le "${HM_F[20]}" ] || fail "acked ${HM_F[22]} > sent ${HM_F[20]}"
compare_data "$HM_SRC_IMG" "$HM_DST_IMG" $C
