#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 420
# The push protocol against a second implementation (tests/peer/
# hm-push-peer.py): a well-behaved Python source fills the kernel
# destination with a known pattern (zero runs stay holes); hostile sources
# (data before SETUP, out-of-range or short runs, bad flags, a second SETUP,
# data on the wrong lane, a wrong geometry) and hostile destinations (ACKs
# for runs never sent, twice, or a failed write) end the link, and nothing
# of theirs is applied.
. "$HM_REPO/tests/vm/lib.sh"

peer="python3 $HM_REPO/tests/peer/hm-push-peer.py"
make_hosts
mib=8
chunk=64
b=$(mkloop b $mib)
size=$(sectors "$b")
dm_create hm-dst "0 $size hybridmig dest $b - $chunk"
secret=$(new_key hybridmig:k)
must in_dst dmsetup message hm-dst 0 listen $DST_IP:7000 hybridmig:k

# One Python source runs the good push and every hostile one (a Python
# start takes seconds here, a refusal milliseconds): it reads a mode a
# line, runs it on links of its own and answers "done MODE ok" (the good
# push: "done good ok MD5", MD5 that of its pattern) or "done MODE failed:
# why", so that the destination is checked between modes.
coproc src_peer { in_src $peer source --connect $DST_IP:7000 --key-text "$secret" \
	--sectors "$size" --chunk $chunk --modes-from-stdin; }
src_peer_pid=$src_peer_PID
# push_mode <mode>: run it; the rest of the peer's answer in $result, $detail.
push_mode() {
	local word got
	echo "$1" >&"${src_peer[1]:-}" &&
		read -r word got result detail <&"${src_peer[0]:-}" &&
		[ "$word $got" = "done $1" ] || fail "the Python source exited (at $1)"
}
dst_data_md5() {
	md5sum < "$b" | cut -d' ' -f1
}

note "a well-behaved source: the destination holds its pattern"
push_mode good
[ "$result" = ok ] || fail "the Python source's push failed"
want=$detail
assert_eq "$want" "$(dst_data_md5)" "destination data after the Python push"
assert_eq 0 "$(hm_field hm-dst 5)" "missing chunks"
total=$(hm_field hm-dst 4)
assert_eq "$total" "$(hm_field hm-dst 20)" "chunks received"
assert_eq $((total / 4)) "$(hm_field hm-dst 21)" "chunks received as zero runs"
alloc=$(stat -c %b "$(losetup -nO BACK-FILE "$b")")
[ "$alloc" -le $((size * 3 / 4 + 64)) ] ||
	fail "zero runs were written, not punched: $alloc blocks of 512 for $size sectors"
# Reads of what arrived are served; writes are not (no handover yet).
dd if=/dev/mapper/hm-dst bs=64k count=1 iflag=direct status=none | cmp - <(head -c 65536 "$b") ||
	fail "read from the destination differs from its data device"
# A write waits for a handover (30 s), then fails: meanwhile, the rest of
# the test (its end waits for it).
dd if=/dev/zero of=/dev/mapper/hm-dst bs=4k count=1 oflag=direct status=none 2>/dev/null &
held_pid=$!

for mode in data-before-setup out-of-range short-data zero-with-data bad-flags \
	    setup-twice data-on-control ack-from-source bad-geometry; do
	note "hostile source: $mode"
	before=$(hm_field hm-dst 20)
	push_mode $mode
	[ "$result" = ok ] || fail "$mode was not refused"
	assert_eq "$before" "$(hm_field hm-dst 20)" "chunks received from a hostile source ($mode)"
	want_error=bad_frame
	[ $mode = bad-geometry ] && want_error=geometry_mismatch
	wait_for 10 link_error_is hm-dst $want_error ||
		fail "$mode: destination error $(hm_link_error hm-dst), not $want_error"
	wait_for 10 link_is hm-dst listening || fail "$mode: destination not listening again"
done
exec {src_peer[1]}>&-
wait $src_peer_pid || fail "the Python source failed at the end of its modes"
assert_eq "$want" "$(dst_data_md5)" "destination data after the hostile sources"

note "hostile destinations against the kernel source"
a=$(mkloop a $mib)
dd if=/dev/urandom of="$a" bs=1M count=2 seek=1 oflag=direct status=none
dm_create hm-src "0 $size hybridmig source $a - $chunk"
# One Python destination for all of them: for each mode read it listens
# ("listening"), serves one link, stops listening (the source's retries
# are refused) and answers "done MODE ok" or "done MODE failed: why".
coproc dst_peer { in_dst $peer dest --listen $DST_IP:7100 --key-text "$secret" \
	--modes-from-stdin; }
dst_peer_pid=$dst_peer_PID
for mode in ack-unknown ack-twice geometry-refuse nak-first; do
	note "hostile destination: $mode"
	# The source retries once the peer has gone (connection_refused), so
	# the kernel log, not last_error, is the witness of why it dropped.
	case $mode in
	ack-unknown|ack-twice) why="lane 1 to $DST_IP:7100 lost: bad_frame";;
	geometry-refuse) why="peer $DST_IP:7100 refused: peer_geometry_mismatch";;
	nak-first) why="destination failed to write chunks";;
	esac
	seen=$(dmesg | grep -c "$why")
	line=
	echo $mode >&"${dst_peer[1]:-}" &&
		read -r -t $((10 * ${HM_WAIT_SCALE:-3})) line <&"${dst_peer[0]:-}"
	[ "$line" = listening ] || fail "peer did not start: $line"
	must in_src dmsetup message hm-src 0 connect $DST_IP:7100 hybridmig:k
	read -r line <&"${dst_peer[0]:-}"
	[ "$line" = "done $mode ok" ] || fail "the source did not handle $mode"
	[ "$(dmesg | grep -c "$why")" -gt "$seen" ] || fail "$mode: no \"$why\" in the kernel log"
	must dmsetup message hm-src 0 disconnect
	# Whatever was not acknowledged is dirty again.
	assert_eq 0 "$(hm_field hm-src 19)" "chunks in flight after disconnect ($mode)"
	[ $mode = ack-unknown ] && assert_eq "$(hm_field hm-src 4)" "$(hm_field hm-src 5)" \
		"dirty chunks after a destination that acknowledged nothing"
done
exec {dst_peer[1]}>&-
wait $dst_peer_pid || fail "the Python destination failed at the end of its modes"
# nak-first acknowledged everything in the end, the failed run on its second push.
assert_eq 0 "$(hm_field hm-src 5)" "dirty chunks after nak-first"

wait $held_pid && fail "the destination accepted a write before handover"
assert_eq "$want" "$(dst_data_md5)" "destination data after the refused write"
