#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 600
# Suspend/resume and reloads of an identical table during a verified
# workload keep the data and the dirty tracking; reloads that would change
# the migration are refused and leave the live table alone.
. "$HM_REPO/tests/vm/lib.sh"

data=$(mkloop data 64)
size=$(sectors "$data")
table="0 $size hybridmig source $data - 128 1 start_clean"
dm_create hm "$table"

write_sectors /dev/mapper/hm 128 256		# chunks 1-2
assert_eq "1-2" "$(hm_dirty_list hm | tr '\n' ' ' | sed 's/ $//')" "dirty before the workload"

# Chunks 512..767 get a verified random workload while the table is
# suspended, resumed and reloaded under it.
fio --name=reload --filename=/dev/mapper/hm --direct=1 --ioengine=libaio --iodepth=8 \
	--rw=randwrite --bssplit=4k/50:64k/50 --offset=32M --size=16M \
	--verify=crc32c --verify_fatal=1 --do_verify=1 --output-format=terse \
	> /tmp/hm-fio.out 2>&1 &
fio_pid=$!
for i in 1 2 3; do
	sleep 0.5
	must dmsetup suspend hm
	must dmsetup resume hm
	must dmsetup reload hm --table "$table"
	must dmsetup suspend hm
	must dmsetup resume hm
	must dmsetup suspend --noflush hm
	must dmsetup resume hm
	echo "cycle $i done"
done
wait $fio_pid || { cat /tmp/hm-fio.out; fail "fio verification failed across reloads"; }

assert_eq "1-2 512-767" "$(hm_dirty_list hm | tr '\n' ' ' | sed 's/ $//')" "dirty after reloads"
writes=$(hm_field hm 8)
[ "$writes" -gt 256 ] || fail "write_bios $writes: counts lost across reloads"

# Changes that would lose or corrupt the tracking are refused.
refuse() {
	local want=$1
	shift
	dmesg_take
	dmsetup reload hm --table "$*" 2>/dev/null && fail "reload accepted: $*"
	dmesg_take
	[[ $HM_DMESG == *"hybridmig: $want"* ]] || fail "reload '$*': expected '$want'"
	echo "ok: refused ($want)"
}
other=$(mkloop other 64)
refuse "Reload cannot change the chunk size" "0 $size hybridmig source $data - 256"
refuse "Reload cannot change the data device" "0 $size hybridmig source $other - 128"
refuse "Reload cannot change the target length" "0 $((size - 128)) hybridmig source $data - 128"
assert_eq "$table" "$(dmsetup table hm | sed "s|$(lsblk -dno MAJ:MIN "$data" | tr -d ' ')|$data|")" "live table after refused reloads"
assert_eq "1-2 512-767" "$(hm_dirty_list hm | tr '\n' ' ' | sed 's/ $//')" "dirty after refused reloads"

dmesg_take
printf '0 128 zero\n128 %s hybridmig source %s - 128\n' "$size" "$data" | dmsetup reload hm 2>/dev/null &&
	fail "reload moving the target accepted"
dmesg_take
[[ $HM_DMESG == *"hybridmig: Reload cannot move the target to another start sector"* ]] ||
	fail "no error for a moved target"

# A reload may change the tunables, when it goes live; the dirty state stays.
must dmsetup reload hm --table "0 $size hybridmig source $data - 128 2 hot_threshold 9"
assert_eq 4 "$(hm_field hm 7)" "hot_threshold of the live table while a reload is inactive"
must dmsetup resume hm
assert_eq 9 "$(hm_field hm 7)" "hot_threshold after a reload"
assert_eq "1-2 512-767" "$(hm_dirty_list hm | tr '\n' ' ' | sed 's/ $//')" "dirty after a tunable reload"

# Removing the device drops the state: a new device starts afresh.
must dmsetup remove hm
must dmsetup create hm --table "$table"
assert_eq 0 "$(hm_dirty hm)" "dirty chunks of a re-created clean device"
