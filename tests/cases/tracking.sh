#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# On a clean start, exactly the chunks that writes, discards and
# write-zeroes touched are dirty, and the write counters add up.
. "$HM_REPO/tests/vm/lib.sh"

# 1024 chunks of 64 KiB plus a last, short chunk of 4 KiB.
must truncate -s $((64 * 1024 * 1024 + 4096)) /tmp/hm-data.img
data=$(losetup --show -f /tmp/hm-data.img) || fail losetup
at_exit "losetup -d $data"
dm_create hm "0 $(sectors "$data") hybridmig source $data - 128 1 start_clean"
dev=/dev/mapper/hm
C=128

assert_eq 1025 "$(hm_field hm 4)" total_chunks
assert_eq 0 "$(hm_dirty hm)" "dirty chunks at a clean start"

# Reads and flushes dirty nothing.
must dd if=$dev of=/dev/null bs=64k skip=60 count=4 iflag=direct status=none
must blockdev --flushbufs $dev
sync
assert_eq 0 "$(hm_dirty hm)" "dirty chunks after reads and flushes"

write_sectors $dev $((10 * C)) $C			# one whole chunk
write_sectors $dev $((20 * C + 5)) 1			# 512 bytes inside a chunk
write_sectors $dev $((30 * C + 120)) 16			# straddles 30 and 31
must blkdiscard -o $((40 * C * 512 + 4096)) -l $((2 * C * 512)) $dev	# 40..42
must blkdiscard -z -o $((50 * C * 512)) -l $((C * 512)) $dev		# 50
write_sectors $dev $((1024 * C)) 8			# the short last chunk

assert_eq "10 20 30-31 40-42 50 1024" "$(hm_dirty_list hm | tr '\n' ' ' | sed 's/ $//')" "dirty chunk list"
assert_eq 9 "$(hm_dirty hm)" "dirty chunk count"

# Write counters: chunk 100 written 5 times, chunk 200 20 times (saturates),
# chunk 300 once. Counters halve every 5 s: an attempt that a halving cut
# through is retried on a fresh device.
rewrite() {	# rewrite <chunk> <times>: one process, the same 512 B each time
	fio --filename=$dev --name=rewrite --direct=1 --rw=write --bs=512 --size=512 \
		--offset=$(($1 * C * 512 + 4096)) --loops="$2" --output-format=terse > /dev/null ||
		fail "fio rewrite of chunk $1"
}
counters() {
	local got
	must dmsetup remove hm
	dm_create hm "0 $(sectors "$data") hybridmig source $data - 128 1 start_clean"
	rewrite 100 5
	rewrite 200 20
	rewrite 300 1
	got="$(hm_field hm 6)"
	must dmsetup message hm 0 set hot_threshold 6
	got="$got $(hm_field hm 6)"
	must dmsetup message hm 0 set hot_threshold 15
	got="$got $(hm_field hm 6)"
	must dmsetup message hm 0 set hot_threshold 1
	got="$got $(hm_field hm 6)"
	echo "hot chunks at thresholds 4 6 15 1: $got"
	[ "$got" = "2 1 1 3" ]
}
for attempt in 1 2 3 4; do
	counters && break
	[ $attempt = 4 ] && fail "hot chunks at thresholds 4 6 15 1: expected '2 1 1 3' in 4 attempts"
done
assert_eq 3 "$(hm_dirty hm)" "dirty chunk count"
writes=$(hm_field hm 8)
[ "$writes" -ge 26 ] || fail "write_bios $writes < 26 writes issued"
must dmsetup message hm 0 set hot_threshold 0
assert_eq 0 "$(hm_field hm 7)" "hot_threshold 0 (never defer)"

# The push tunables.
must dmsetup message hm 0 set policy precopy
assert_eq precopy "$(hm_field hm 17)" policy
must dmsetup message hm 0 set policy postcopy
assert_eq postcopy "$(hm_field hm 17)" policy
must dmsetup message hm 0 set policy hybrid
must dmsetup message hm 0 set bandwidth 12345
assert_eq 12345 "$(hm_field hm 27)" bandwidth
must dmsetup message hm 0 set bandwidth 0
assert_eq 0 "$(hm_field hm 27)" "bandwidth 0 (no limit)"
must dmsetup message hm 0 set ready_chunks 3
must dmsetup message hm 0 set hot_threshold 1

# Bad messages are refused and change nothing.
for msg in "set hot_threshold -1" "set hot_threshold 16" "set hot_threshold x" \
	"set no_such_param 1" "set hot_threshold" "handover now" "frobnicate" \
	"set policy mirror" "set policy" "set bandwidth -1" "set bandwidth x" \
	"set ready_chunks x" "set ready_chunks -1" "set policy hybrid extra"; do
	# shellcheck disable=SC2086
	dmsetup message hm 0 $msg 2>/dev/null && fail "message '$msg' accepted"
done
assert_eq "1 hybrid 0" "$(hm_field hm 7) $(hm_field hm 17) $(hm_field hm 27)" \
	"hot_threshold policy bandwidth after bad messages"
echo "dirty: $(hm_dirty_list hm | tr '\n' ' ')"
