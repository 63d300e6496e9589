#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 240
# Invariant 5 before handover: the destination accepts no write (it waits
# for a handover, and fails when none comes), serves reads of the chunks it
# holds (the source's data), and pulls the chunks it does not hold yet.
. "$HM_REPO/tests/vm/lib.sh"

C=128
CB=$((C * 512))
S=/dev/mapper/hm-src
D=/dev/mapper/hm-dst

# read_chunks <dev> <first chunk> <count> [skip bytes] [bytes]: O_DIRECT.
read_at() {
	dd if="$1" bs="$3" skip="$2" count=1 iflag=direct,skip_bytes status=none
}
served_read() {
	local a b
	a=$(read_at "$D" "$1" "$2" | md5sum) || fail "read of the destination at $1 failed: $3"
	b=$(read_at "$S" "$1" "$2" | md5sum)
	[ "$(read_at "$D" "$1" "$2" | wc -c)" = "$2" ] || fail "short read of the destination at $1: $3"
	assert_eq "$b" "$a" "destination data at $1 ($3)"
	echo "ok: read at $1 ($2 bytes) served: $3"
}
note "a clean start: the destination gets only the chunks written now"
fill_random /tmp/hm-hm-src.img 0 16
must cp /tmp/hm-hm-src.img /tmp/hm-hm-dst.img	# what a clean start assumes
make_linked_pair hm-src hm-dst 16 $C start_clean
assert_eq 0 "$(hm_dirty hm-src)" "source dirty chunks at a clean start"
missing0=$(hm_dirty hm-dst)
assert_eq 256 "$missing0" "destination missing chunks at creation"
write_sectors $S $((3 * C)) $C			# chunk 3
write_sectors $S $((10 * C + 100)) $((2 * C))	# chunks 10-12
write_sectors $S $((255 * C)) 8			# chunk 255 (the last)
wait_synced hm-src 60
wait_for 20 field_is hm-dst 5 251 ||
	fail "destination missing chunks: $(hm_push_line hm-dst)"
hm_push_line hm-dst

served_read $((3 * CB)) $CB "chunk 3"
served_read $((10 * CB)) $((3 * CB)) "chunks 10-12"
served_read $((11 * CB + 4096)) 4096 "inside chunk 11"
served_read $((255 * CB + 512)) 512 "the last chunk"

note "reads of missing chunks are pulled from the source"
pulls0=$(hm_field hm-dst 29)
served_read 0 4096 "chunk 0, never sent"
served_read $((12 * CB)) $((2 * CB)) "chunks 12-13, 13 missing"
served_read $((9 * CB + CB - 512)) 1024 "straddling 9-10, 9 missing"
served_read $((100 * CB)) $CB "chunk 100"
[ "$(hm_field hm-dst 29)" -ge $((pulls0 + 4)) ] ||
	fail "missing chunks read without pulls: $(hm_push_line hm-dst)"
assert_eq 247 "$(hm_dirty hm-dst)" "destination missing chunks after the pulls"

note "writes wait for handover (and fail when none comes: see handover)"
dst_img=$HM_DST_IMG	# make_linked_pair below sets HM_DST_IMG anew
dst_md5=$(md5 "$dst_img")
dd if=/dev/urandom of=$D bs=4096 seek=$((3 * C / 8)) count=1 oflag=direct status=none 2>/dev/null &
held=$!
sleep 3
kill -0 $held 2>/dev/null || fail "a write to the destination before handover did not wait"
assert_eq "$dst_md5" "$(md5 "$dst_img")" "destination data while a write waits"

note "an all-dirty start: the whole destination reads back as the source"
# Meanwhile the held write waits out its 30 s.
fill_random /tmp/hm-hm-s2.img 0 8
HM_PORT=7001 make_linked_pair hm-s2 hm-d2 8 $C
wait_synced hm-s2 60
wait_for 20 field_is hm-d2 5 0 ||
	fail "destination missing chunks: $(hm_push_line hm-d2)"
assert_eq "$(data_md5 /dev/mapper/hm-s2)" "$(data_md5 /dev/mapper/hm-d2)" "whole destination vs source"

wait $held && fail "a write before handover succeeded without a handover"
assert_eq "$dst_md5" "$(md5 "$dst_img")" "destination data after the held write failed"
