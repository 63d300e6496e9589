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

# Write counters: chunk 100 written 5 times, chunk 200 20 times (saturates).
for _ in 1 2 3 4 5; do write_sectors $dev $((100 * C + 8)) 8; done
for _ in $(seq 20); do write_sectors $dev $((200 * C)) 1; done
assert_eq 2 "$(hm_field hm 6)" "hot chunks at threshold 4"
must dmsetup message hm 0 set hot_threshold 6
assert_eq 1 "$(hm_field hm 6)" "hot chunks at threshold 6"
must dmsetup message hm 0 set hot_threshold 15
assert_eq 1 "$(hm_field hm 6)" "hot chunks at threshold 15 (saturated counter)"
must dmsetup message hm 0 set hot_threshold 1
assert_eq 11 "$(hm_field hm 6)" "hot chunks at threshold 1 (every written chunk)"
assert_eq 11 "$(hm_dirty hm)" "dirty chunk count"
writes=$(hm_field hm 8)
[ "$writes" -ge 31 ] || fail "write_bios $writes < 31 writes issued"

# Bad messages are refused and change nothing.
for msg in "set hot_threshold 0" "set hot_threshold 16" "set hot_threshold x" \
	"set no_such_param 1" "set hot_threshold" "handover now" "frobnicate"; do
	# shellcheck disable=SC2086
	dmsetup message hm 0 $msg 2>/dev/null && fail "message '$msg' accepted"
done
assert_eq 1 "$(hm_field hm 7)" "hot_threshold after bad messages"
echo "dirty: $(hm_dirty_list hm | tr '\n' ' ')"
