#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 420
# Post-copy on the destination: after an immediate handover (policy
# postcopy: nothing pushed before), reads of missing chunks are pulled on
# demand while a slow prefetch runs; the VM's writes on the destination
# (partial chunks, whole chunks, chunk-straddling) are never overwritten by
# a pull or a prefetch (fio verify); the link is cut mid-way and heals;
# the destination completes and holds the source's data plus its own
# writes. Invariants 1, 4 and 5 of DESIGN.md §3.
. "$HM_REPO/tests/vm/lib.sh"

make_hosts
mib=48
a=$(mkloop a $mib)
b=$(mkloop b $mib)
size=$(sectors "$a")
dd if=/dev/urandom of="$a" bs=1M count=$mib oflag=direct status=none
dm_create hm-src "0 $size hybridmig source $a - 64 4 policy postcopy bandwidth 1024"
dm_create hm-dst "0 $size hybridmig dest $b - 64"
new_key hybridmig:k > /dev/null
must in_dst dmsetup message hm-dst 0 listen $DST_IP:7000 hybridmig:k
must in_src dmsetup message hm-src 0 connect $DST_IP:7000 hybridmig:k
wait_for 20 field_is hm-src 18 1 || fail "postcopy source not ready: $(dmsetup status hm-src)"
assert_eq 0 "$(hm_field hm-src 20)" "chunks pushed before handover by policy postcopy"

note "handover with nothing pushed"
must dmsetup message hm-src 0 handover
assert_eq postcopy "$(hm_field hm-src 2)" "source phase"
wait_for 10 field_is hm-dst 2 postcopy || fail "destination phase: $(dmsetup status hm-dst)"
dd if=/dev/zero of=/dev/mapper/hm-src bs=4k count=1 oflag=direct status=none 2>/dev/null &&
	fail "the source accepted a write after handover"
echo "handover: source $(hm_field hm-src 28) us, destination $(hm_field hm-dst 28) us"

note "reads of missing chunks are pulled, and are right"
for off in 3 17 29 41; do
	want=$(dd if="$a" bs=1M skip=$off count=1 status=none | md5sum)
	got=$(dd if=/dev/mapper/hm-dst bs=1M skip=$off count=1 iflag=direct status=none | md5sum)
	assert_eq "$want" "$got" "MiB $off read on the destination"
done
pulls=$(hm_field hm-dst 29)
[ "$pulls" -gt 0 ] || fail "no pulls counted: $(dmsetup status hm-dst)"
echo "pulls $pulls, average $(hm_field hm-dst 30) us"

note "the VM writes on the destination during prefetch; the link is cut twice"
fio --filename=/dev/mapper/hm-dst --name=w --rw=randwrite --bsrange=1k-96k \
	--blockalign=1k --direct=1 --size=16M --ioengine=psync --verify=crc32c \
	--verify_backlog=64 --do_verify=0 --randseed=7 --number_ios=800 \
	--output=/tmp/fio-w.txt > /dev/null &
fio_pid=$!
sleep 2
must ip -n src link set veth-s down
sleep 3
must ip -n src link set veth-s up
sleep 2
must in_src ss -K dst $DST_IP
wait $fio_pid || { cat /tmp/fio-w.txt; fail "writes on the destination failed"; }
must dmsetup message hm-src 0 set bandwidth 0
wait_for 120 field_is hm-dst 2 complete || fail "destination not complete: $(dmsetup status hm-dst)"
wait_for 30 field_is hm-src 2 complete || fail "source not complete: $(dmsetup status hm-src)"
dmsetup status hm-src
dmsetup status hm-dst
[ "$(hm_reconnects hm-src)" -ge 1 ] || fail "the link was never cut"
# Two kernels speak the protocol: only our cuts may break the link.
[ "$(hm_reconnects hm-src)" -le 3 ] || fail "the link broke more often than it was cut"
no_protocol_errors

note "the destination holds its own writes and the source's data elsewhere"
fio --filename=/dev/mapper/hm-dst --name=w --rw=randwrite --bsrange=1k-96k \
	--blockalign=1k --direct=1 --size=16M --ioengine=psync --verify=crc32c \
	--verify_only --randseed=7 --number_ios=800 --output=/tmp/fio-v.txt > /dev/null ||
	{ cat /tmp/fio-v.txt; fail "the destination's own writes were overwritten"; }
want=$(dd if="$a" bs=1M skip=16 status=none | md5sum)
assert_eq "$want" "$(dd if=/dev/mapper/hm-dst bs=1M skip=16 iflag=direct status=none | md5sum)" \
	"untouched region of the destination"
assert_eq "$want" "$(dd if="$b" bs=1M skip=16 status=none | md5sum)" \
	"untouched region of the destination's data device"
