#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# suite: extra
# timeout: 600
# Hostile peers get nowhere: impostors that reflect our own challenge or
# proof are refused; garbage, huge lengths, truncated headers and connection
# floods cannot crash or wedge the destination; a man in the middle that
# flips a byte, drops, replays or truncates a frame ends the connection,
# which then heals by itself. Real peer: the kernel on both sides.
. "$HM_REPO/tests/vm/lib.sh"

peer="python3 $HM_REPO/tests/peer/hm-peer.py"
make_hosts
a=$(mkloop a 16)
b=$(mkloop b 16)
dm_create hm-src "0 $(sectors "$a") hybridmig source $a - 128"
dm_create hm-dst "0 $(sectors "$b") hybridmig dest $b - 128"
new_key hybridmig:k > /dev/null

note "an impostor destination that reflects the source's nonce"
in_dst $peer reflect-server --listen $DST_IP:7100 --proof nonce --count 2 --timeout 20 > /tmp/hm-refl 2>&1 &
refl=$!
sleep 1
must in_src dmsetup message hm-src 0 connect $DST_IP:7100 hybridmig:k
wait $refl || { cat /tmp/hm-refl; fail "the source answered an impostor's challenge"; }
# Once the impostor has gone, the next retry overwrites last_error with
# connection_refused, so the kernel log is the stable witness here.
dmesg | grep -q "peer $DST_IP:7100 refused: bad_peer_proof" ||
	fail "impostor not refused for its proof: $(dmsetup status hm-src)"
link_is hm-src connected && fail "connected to an impostor"
must dmsetup message hm-src 0 disconnect

note "an impostor source that reflects the destination's proof"
must in_dst dmsetup message hm-dst 0 listen $DST_IP:7000 hybridmig:k
in_src $peer reflect-client --connect $DST_IP:7000 --mode reflect > /tmp/hm-refl 2>&1 ||
	{ cat /tmp/hm-refl; fail "the destination accepted a reflected proof"; }
wait_for 10 link_error_is hm-dst bad_peer_proof || fail "reflection not reported: $(dmsetup status hm-dst)"
link_is hm-dst connected && fail "destination connected to an impostor"

note "garbage at the listening port"
for mode in random huge-len truncated-header bad-lane session-first; do
	in_src $peer garbage --connect $DST_IP:7000 --mode $mode --count 2 --timeout 10 > /tmp/hm-garbage 2>&1
	echo "garbage $mode: $(tail -n1 /tmp/hm-garbage)"
	link_is hm-dst connected && fail "garbage ($mode) made the destination connected"
done
in_src $peer garbage --connect $DST_IP:7000 --mode flood --count 40 --hold 2 --timeout 30 > /tmp/hm-garbage 2>&1
echo "flood: $(tail -n1 /tmp/hm-garbage)"

note "a peer trickling its HELLO byte by byte is cut off by the handshake deadline"
t0=$(date +%s)
in_src $peer garbage --connect $DST_IP:7000 --mode slow --count 1 --slow-delay 0.5 --timeout 60 > /tmp/hm-garbage 2>&1
t=$(( $(date +%s) - t0 ))
echo "slow: $(tail -n1 /tmp/hm-garbage) after ${t}s"
[ "$t" -lt 20 ] || fail "a trickling peer held the destination for ${t}s (HELLO at 2 bytes/s takes 32 s)"

note "a peer sending a header, then trickling the payload, is cut off too"
in_src python3 - "$HM_REPO/tests/peer" $DST_IP <<'PY' || fail "a payload trickle held the destination"
import os, socket, sys, time
sys.path.insert(0, sys.argv[1])
import hmproto as hp
frame = hp.encode_frame(hp.HELLO, 0, 0, hp.hello_payload(os.urandom(32)))
s = socket.create_connection((sys.argv[2], 7000), timeout=5)
s.sendall(frame[:24])
t0 = time.time()
try:
    for b in frame[24:]:            # 40 bytes at 2/s would take 20 s
        s.sendall(bytes([b]))
        time.sleep(0.5)
    s.settimeout(10)
    closed = s.recv(1) == b""
except OSError:
    closed = True
took = time.time() - t0
print("payload trickle cut off after %.1fs" % took)
sys.exit(0 if closed and took < 12 else 1)
PY

note "the real source still gets in"
must in_src dmsetup message hm-src 0 connect $DST_IP:7000 hybridmig:k
wait_for 60 link_is hm-src connected || fail "legitimate source locked out: $(dmsetup status hm-src)"
wait_for 20 link_is hm-dst connected || fail "destination not connected: $(dmsetup status hm-dst)"
must dmsetup message hm-src 0 disconnect

# A frame-aware proxy in the destination's namespace spoils one frame on the
# first connection of each lane; the link must drop it and come back.
mitm_case() {
	local fault=$1 dir=$2 want_src=$3 want_dst=$4 port=$5
	note "man in the middle: $fault $dir"
	in_dst $peer mitm --listen $DST_IP:$port --forward $DST_IP:7000 --fault "$fault" \
		--direction "$dir" --after-frames 1 --fault-once --max-time 120 > "/tmp/hm-mitm-$fault" 2>&1 &
	local mitm=$!
	sleep 1
	local before
	before=$(hm_reconnects hm-src)
	must in_src dmsetup message hm-src 0 connect $DST_IP:$port hybridmig:k
	wait_for 60 sh -c "[ \$(dmsetup status hm-src | cut -d' ' -f14) -gt $before ] && dmsetup status hm-src | grep -q ' connected '" ||
		{ cat "/tmp/hm-mitm-$fault"; fail "$fault $dir: no reconnect: $(dmsetup status hm-src)"; }
	echo "source: $(dmsetup status hm-src | cut -d' ' -f12-)"
	echo "destination: $(dmsetup status hm-dst | cut -d' ' -f12-)"
	[ -z "$want_src" ] || assert_eq "$want_src" "$(hm_link_error hm-src)" "source error after $fault $dir"
	[ -z "$want_dst" ] || assert_eq "$want_dst" "$(hm_link_error hm-dst)" "destination error after $fault $dir"
	grep -q fault "/tmp/hm-mitm-$fault" || { cat "/tmp/hm-mitm-$fault"; fail "the proxy injected no $fault"; }
	must dmsetup message hm-src 0 disconnect
	kill $mitm 2>/dev/null
	wait $mitm 2>/dev/null || true
}
mitm_case flip c2s "" bad_mac 7201
mitm_case flip s2c bad_mac "" 7202
mitm_case replay c2s "" bad_sequence 7203
mitm_case drop s2c bad_sequence "" 7204
mitm_case truncate c2s "" "" 7205
