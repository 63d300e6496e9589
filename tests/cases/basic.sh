#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# A source device passes data through, reports its status, echoes its table.
. "$HM_REPO/tests/vm/lib.sh"

data=$(mkloop data 64)
dm_create hm "0 $(sectors "$data") hybridmig source $data - 128"

read -r role phase chunk total dirty hot thr writes link _ <<< "$(dmsetup status hm | cut -d' ' -f4-)"
assert_eq source "$role" role
assert_eq tracking "$phase" phase
assert_eq 128 "$chunk" chunk_sectors
assert_eq 1024 "$total" total_chunks
assert_eq 1024 "$dirty" "dirty chunks of an all-dirty start"
assert_eq 0 "$hot" hot_chunks
assert_eq 4 "$thr" hot_threshold
assert_eq 0 "$writes" write_bios
assert_eq none "$link" link_state
# The push fields: policy ready inflight sent zero acked data_bytes rate
# dirty_rate deferred bandwidth, then handover_us pulls pull_avg_us; then
# metadata ("-": none) io_errors migration_id (made up by the source), and
# nothing after them.
assert_eq "hybrid 0 0 0 0 0 0 0 0 0 0 0 0 0 - 0" "$(dmsetup status hm | cut -d' ' -f20-35)" "push fields"
dmsetup status hm | cut -d' ' -f36- | grep -qxE '[0-9a-f]{32}' ||
	fail "migration_id: '$(dmsetup status hm | cut -d' ' -f36-)'"

majmin=$(lsblk -dno MAJ:MIN "$data" | tr -d ' ')
assert_eq "0 131072 hybridmig source $majmin - 128" "$(dmsetup table hm)" table

# Data written through the target is on the data device, and reads back.
must dd if=/dev/urandom of=/tmp/hm-pattern bs=1M count=4 status=none
must dd if=/tmp/hm-pattern of=/dev/mapper/hm bs=1M seek=3 oflag=direct status=none
assert_eq "$(md5 /tmp/hm-pattern)" \
	"$(dd if="$data" bs=1M skip=3 count=4 status=none | md5sum | cut -d' ' -f1)" "data device content"
assert_eq "$(md5 /tmp/hm-pattern)" \
	"$(dd if=/dev/mapper/hm bs=1M skip=3 count=4 iflag=direct status=none | md5sum | cut -d' ' -f1)" "read back"
[ "$(hm_field hm 8)" -gt 0 ] || fail "write_bios did not move"

# io_opt advertises the chunk size.
assert_eq 65536 "$(cat "$(dm_sysfs hm)/queue/optimal_io_size")" io_opt
