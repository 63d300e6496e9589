#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 600
# The module loads and unloads 10 times with devices created, used and
# removed in between, and refuses to unload while a device uses it.
. "$HM_REPO/tests/vm/lib.sh"

data=$(mkloop data 8)
size=$(sectors "$data")

grep -q '^dm_hybridmig ' /proc/modules && must rmmod dm_hybridmig
for i in $(seq 10); do
	must insmod "$HM_KO"
	must dmsetup create hm --table "0 $size hybridmig source $data - 8 1 start_clean"
	write_sectors /dev/mapper/hm $((i * 8)) 8
	assert_eq 1 "$(hm_dirty hm)" "dirty chunks in round $i"
	if [ "$i" = 1 ]; then
		rmmod dm_hybridmig 2>/dev/null && fail "module unloaded while in use"
	fi
	must dmsetup remove hm
	must rmmod dm_hybridmig
done
must insmod "$HM_KO"
