#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# Tracking memory stays within 8 bits per chunk plus a small constant:
# 64 Mi chunks (4 TiB of dm-zero in 64 KiB chunks) may cost at most 64 MiB.
# The bitmaps are kvmalloc'ed; /proc/vmallocinfo names our module as their
# owner, so it accounts for them exactly (MemFree is too noisy).
. "$HM_REPO/tests/vm/lib.sh"

sz=$((1 << 33))				# 4 TiB in sectors
chunks=$((sz / 128))
dm_create zero4t "0 $sz zero"

hm_vmalloc_kib() {
	awk '/\[dm_hybridmig\]/ { sum += $2 } END { print int(sum / 1024) }' /proc/vmallocinfo
}

before=$(hm_vmalloc_kib)
must dmsetup create hm --table "0 $sz hybridmig source /dev/mapper/zero4t - 128"
at_exit "dmsetup remove --force hm"
used=$(( $(hm_vmalloc_kib) - before ))
limit=$((chunks / 1024 + 64))		# 8 bits (1 byte) per chunk + 64 KiB
echo "chunks=$chunks used=${used}KiB limit=${limit}KiB ($((used * 8 * 1024 / chunks)) bits/chunk)"
[ "$used" -le "$limit" ] || fail "tracking used ${used} KiB for $chunks chunks (limit ${limit} KiB)"
# The measurement must see the allocation at all (5 bits per chunk = 40 MiB).
[ "$used" -ge $((chunks * 5 / 8 / 1024)) ] || fail "measured ${used} KiB, less than the bitmaps need: measurement broken"
assert_eq "$chunks" "$(hm_dirty hm)" "dirty chunks"
must dmsetup remove hm

# No leak: after five more create/remove rounds all of it is back.
for _ in 1 2 3 4 5; do
	must dmsetup create hm --table "0 $sz hybridmig source /dev/mapper/zero4t - 128"
	must dmsetup remove hm
done
lost=$(hm_vmalloc_kib)
echo "kvmalloc'ed memory not returned after 6 rounds: ${lost} KiB"
[ "$lost" -eq 0 ] || fail "${lost} KiB of vmalloc memory not returned after removal"
