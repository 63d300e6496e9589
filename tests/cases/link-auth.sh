#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 300
# Source and destination in two network namespaces authenticate over a
# veth link with a shared logon key (IPv4 and IPv6); a wrong or missing key
# is refused with a reason in status and an event; the secret never shows.
. "$HM_REPO/tests/vm/lib.sh"

make_hosts
a=$(mkloop a 32)
b=$(mkloop b 32)
dm_create hm-src "0 $(sectors "$a") hybridmig source $a - 128"
dm_create hm-dst "0 $(sectors "$b") hybridmig dest $b - 128"
secret=$(new_key hybridmig:good)

assert_eq "none - 0 -" "$(dmsetup status hm-src | cut -d' ' -f12-15)" "link fields before connect"
assert_eq "dest waiting" "$(dmsetup status hm-dst | cut -d' ' -f4-5)" "destination role and phase"

note "right key, IPv4"
must in_dst dmsetup message hm-dst 0 listen $DST_IP:7000 hybridmig:good
assert_eq listening "$(hm_link_state hm-dst)" "destination state"
must in_src dmsetup message hm-src 0 connect $DST_IP:7000 hybridmig:good
wait_for 20 link_is hm-src connected || fail "source not connected: $(dmsetup status hm-src)"
wait_for 20 link_is hm-dst connected || fail "destination not connected: $(dmsetup status hm-dst)"
dmsetup status hm-src
dmsetup status hm-dst
"$HM_CTL" status hm-src | grep -q ' connected$' || fail "hybridmigctl does not show the link: $("$HM_CTL" status hm-src)"
"$HM_CTL" status --json hm-dst | python3 -c '
import json, sys
link = json.load(sys.stdin)["devices"][0]["link"]
assert link["state"] == "connected" and link["address"] == "192.0.2.2:7000", link
assert link["tx_frames"] > 0 and link["rx_frames"] > 0, link' || fail "hybridmigctl JSON link of the destination"
# Keepalive frames flow both ways while idle.
f1=$(hm_field hm-src 16)
sleep 5
f2=$(hm_field hm-src 16)
[ "$f2" -gt "$f1" ] || fail "no frames received while idle ($f1 -> $f2)"
assert_eq - "$(hm_link_error hm-src)" "source last error"

# I/O to a destination before handover: push-dest-io and handover.

note "messages in the wrong role or state are refused"
in_src dmsetup message hm-src 0 connect $DST_IP:7000 hybridmig:good 2>/dev/null && fail "second connect accepted"
in_src dmsetup message hm-src 0 listen $DST_IP:7000 hybridmig:good 2>/dev/null && fail "listen on a source accepted"
in_dst dmsetup message hm-dst 0 connect $DST_IP:7000 hybridmig:good 2>/dev/null && fail "connect on a destination accepted"
must dmsetup message hm-src 0 disconnect
must dmsetup message hm-dst 0 disconnect
dmsetup message hm-src 0 disconnect 2>/dev/null && fail "disconnect of a disconnected device accepted"
for bad in "1.2.3:7000" "$DST_IP" "$DST_IP:0" "$DST_IP:70000" "[::1:7000" "host:7000" "[$DST_IP6]7000"; do
	in_dst dmsetup message hm-dst 0 listen "$bad" hybridmig:good 2>/dev/null && fail "address '$bad' accepted"
done

note "missing key"
dmesg_take
in_src dmsetup message hm-src 0 connect $DST_IP:7000 hybridmig:nosuchkey 2>/dev/null && fail "missing key accepted"
dmesg_take
[[ $HM_DMESG == *'logon key "hybridmig:nosuchkey" not found'* ]] || fail "no clear error for a missing key"
assert_eq none "$(hm_link_state hm-src)" "state after a refused connect"

note "wrong key"
bad=$(new_key hybridmig:bad)
ev_src=$(dm_events hm-src)
ev_dst=$(dm_events hm-dst)
must in_dst dmsetup message hm-dst 0 listen $DST_IP:7000 hybridmig:good
must in_src dmsetup message hm-src 0 connect $DST_IP:7000 hybridmig:bad
wait_for 20 link_error_is hm-src bad_peer_proof || fail "source error: $(dmsetup status hm-src)"
wait_for 20 link_error_is hm-dst peer_rejected_auth || fail "destination error: $(dmsetup status hm-dst)"
sleep 2
link_is hm-src connected && fail "connected with a wrong key"
link_is hm-dst connected && fail "destination connected with a wrong key"
[ "$(dm_events hm-src)" -gt "$ev_src" ] || fail "no dm event on the source for the refused peer"
[ "$(dm_events hm-dst)" -gt "$ev_dst" ] || fail "no dm event on the destination for the refused peer"
dmsetup status hm-src
must dmsetup message hm-src 0 disconnect
must dmsetup message hm-dst 0 disconnect

note "right key, IPv6"
must in_dst dmsetup message hm-dst 0 listen "[$DST_IP6]:7001" hybridmig:good
must in_src dmsetup message hm-src 0 connect "[$DST_IP6]:7001" hybridmig:good
wait_for 20 link_is hm-src connected || fail "IPv6: source not connected: $(dmsetup status hm-src)"
wait_for 20 link_is hm-dst connected || fail "IPv6: destination not connected"

note "the secret shows nowhere"
{
	dmsetup table
	dmsetup status
	dmesg
	"$HM_CTL" status
	"$HM_CTL" status --json
} > /tmp/hm-everything 2>&1
grep -qi "$secret" /tmp/hm-everything && fail "the secret appears in table, status, dmesg or tool output"
grep -qi "$bad" /tmp/hm-everything && fail "the wrong secret appears in the output"

note "removal while connected, and while connecting"
must dmsetup remove hm-src
must in_src dmsetup create hm-src --table "0 $(sectors "$a") hybridmig source $a - 128"
must in_src dmsetup message hm-src 0 connect $DST_IP:7999 hybridmig:good
sleep 1
must dmsetup remove hm-src
must dmsetup remove hm-dst
# Nothing of the links is left holding the module.
must rmmod dm_hybridmig
must insmod "$HM_KO"
