#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 420
# The data devices fail under both ends, in the push phase and in
# post-copy (dm-flakey: every I/O fails), or turn slow (dm-delay). Each
# error shows in status (io_errors, with a dm event), the chunks concerned
# are tried again (not in a tight loop), a VM read of a missing chunk
# waits instead of returning wrong data, and once the fault clears the
# migration completes by itself with the right data everywhere.
. "$HM_REPO/tests/vm/lib.sh"

make_hosts
mib=16
chunk=128	# sectors: 64 KiB
a=$(mkloop a $mib)
b=$(mkloop b $mib)
size=$(sectors "$a")
dd if=/dev/urandom of="$a" bs=1M count=$mib oflag=direct status=none
# The "disks" under the two ends: dm devices whose tables the faults swap.
dm_create a-disk "0 $size linear $a 0"
dm_create b-disk "0 $size linear $b 0"
dm_create hm-src "0 $size hybridmig source /dev/mapper/a-disk - $chunk 2 bandwidth 1024"
dm_create hm-dst "0 $size hybridmig dest /dev/mapper/b-disk - $chunk"
link_pair hm-src hm-dst
wait_connected hm-src hm-dst
wait_for 20 field_gt hm-src 22 0 || fail "nothing acknowledged: $(hm_push_line hm-src)"

# errors_rise <dev> <count before> <what>: io_errors moved, with an event.
errors_rise() {
	wait_for 20 field_gt "$1" 32 "$2" || fail "$3: no error counted: $(hm_push_line "$1")"
	echo "$3: io_errors $2 -> $(hm_io_errors "$1")"
}
# Only the first error of a device raises an event (later ones are counted).
ev_src=$(dm_events hm-src)
ev_dst=$(dm_events hm-dst)

note "push: the source's disk fails"
fault_dev a-disk "$a" error
errors_rise hm-src 0 "source disk error"
dd if=/dev/urandom of=/dev/mapper/hm-src bs=4k count=1 seek=100 oflag=direct status=none 2>/dev/null &&
	fail "a VM write succeeded on a failing disk"
[ "$(dm_events hm-src)" -gt "$ev_src" ] || fail "no dm event for the source's first error"
dmesg | grep -q "cannot read chunks .* to push them" || fail "no push read error logged"
# Not a tight loop: a few failed reads a second at most.
e0=$(hm_io_errors hm-src)
sleep 3
e1=$(hm_io_errors hm-src)
echo "failed reads in 3 s: $((e1 - e0))"
[ $((e1 - e0)) -le 60 ] || fail "the pusher retries a failing disk in a tight loop: $((e1 - e0)) errors in 3 s"
assert_eq connected "$(hm_link_state hm-src)" "link state: a disk error is not a link error"
fault_dev a-disk "$a" ok
acked=$(hm_field hm-src 22)
wait_for 30 field_gt hm-src 22 "$acked" || fail "the push did not resume: $(hm_push_line hm-src)"

note "push: the destination's disk fails"
fault_dev b-disk "$b" error
errors_rise hm-dst 0 "destination disk error"
[ "$(dm_events hm-dst)" -gt "$ev_dst" ] || fail "no dm event for the destination's first error"
wait_for 20 sh -c "dmesg | grep -q 'destination failed to write chunks'" ||
	fail "the source was not told of failed writes: $(hm_push_line hm-src)"
fault_dev b-disk "$b" ok

note "push: both disks slow (dm-delay 40 ms) under a writing VM"
e_src=$(hm_io_errors hm-src)
e_dst=$(hm_io_errors hm-dst)
fault_dev a-disk "$a" delay 40
fault_dev b-disk "$b" delay 40
fio --filename=/dev/mapper/hm-src --name=w --rw=randwrite --bssplit=4k/50:64k/50 \
	--direct=1 --ioengine=libaio --iodepth=4 --runtime=5 --time_based \
	--output=/tmp/fio-delay.txt > /dev/null || fail "writes on a slow disk failed"
must dmsetup message hm-src 0 set bandwidth 0
wait_synced hm-src 120
fault_dev a-disk "$a" ok
fault_dev b-disk "$b" ok
assert_eq "$e_src" "$(hm_io_errors hm-src)" "source io_errors after a slow disk"
assert_eq "$e_dst" "$(hm_io_errors hm-dst)" "destination io_errors after a slow disk"
compare_data "$a" "$b" $chunk

note "post-copy: handover with every chunk dirty again"
handover_all_dirty hm-src hm-dst $mib 256
cp /tmp/hm-a.img /tmp/expected.img
at_exit "rm -f /tmp/expected.img"
[ "$(hm_field hm-dst 5)" -gt 100 ] || fail "too little left for post-copy: $(hm_push_line hm-dst)"

# The last missing chunk (the prefetch goes in order: it is there last).
last_missing() {
	hm_dirty_list hm-dst | tail -n1 | sed 's/.*-//'
}

note "post-copy: the source's disk fails; a VM read of a missing chunk waits"
e_src=$(hm_io_errors hm-src)
fault_dev a-disk "$a" error
c=$(last_missing)
dd if=/dev/mapper/hm-dst of=/tmp/read.bin bs=64k count=1 skip="$c" iflag=direct status=none &
reader=$!
at_exit "kill $reader"
errors_rise hm-src "$e_src" "source disk error in post-copy"
sleep 2
kill -0 "$reader" 2>/dev/null || fail "a read of missing chunk $c returned while the source cannot read it"
fault_dev a-disk "$a" ok
wait_for 20 sh -c "! kill -0 $reader 2>/dev/null" || fail "the read of chunk $c still waits after the disk healed"
wait "$reader" || fail "the read of chunk $c failed"
assert_eq "$(dd if="$a" bs=64k skip="$c" count=1 status=none | md5sum)" "$(md5sum < /tmp/read.bin)" \
	"chunk $c read during the source's disk error"

note "post-copy: the destination's disk fails"
e_dst=$(hm_io_errors hm-dst)
fault_dev b-disk "$b" error
dd if=/dev/urandom of=/dev/mapper/hm-dst bs=64k count=1 seek=1 oflag=direct status=none 2>/dev/null &&
	fail "a VM write succeeded on the destination's failing disk"
errors_rise hm-dst "$e_dst" "destination disk error in post-copy"
sleep 2
fault_dev b-disk "$b" ok
# What a failed write left is undefined: the VM writes it again.
head -c 65536 /dev/urandom > /tmp/w.bin
dd if=/tmp/w.bin of=/dev/mapper/hm-dst bs=64k seek=1 oflag=direct status=none || fail "rewrite"
dd if=/tmp/w.bin of=/tmp/expected.img bs=64k seek=1 conv=notrunc status=none

note "post-copy: both disks slow; the migration completes"
fault_dev a-disk "$a" delay 40
fault_dev b-disk "$b" delay 40
must dmsetup message hm-src 0 set bandwidth 0
wait_for 120 field_is hm-dst 2 complete || fail "destination not complete: $(hm_push_line hm-dst)"
wait_for 30 field_is hm-src 2 complete || fail "source not complete: $(hm_push_line hm-src)"
fault_dev a-disk "$a" ok
fault_dev b-disk "$b" ok
compare_data /tmp/expected.img "$b" $chunk
hm_push_line hm-src
hm_push_line hm-dst
no_protocol_errors
