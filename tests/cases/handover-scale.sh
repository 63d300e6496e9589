#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# suite: extra
# timeout: 420
# Handover costs the same whatever the disk size: with nothing pushed
# (policy postcopy), a 1 GiB and a 64 GiB disk (sparse) hand over with
# every chunk missing; the map crosses in a few frames. On the 1 GiB disk,
# the destination's read misses are measured with the prefetch idle and
# with it saturating the link, then the time to complete. Prints the
# figures (emulated machine); asserts what was missing and the data.
. "$HM_REPO/tests/vm/lib.sh"

# 4k random reads over [offset, offset+16M) of the destination: p50 p99 (us)
read_misses() {
	fio --filename=/dev/mapper/d-1G --name=r --rw=randread --bs=4k --direct=1 \
		--ioengine=psync --offset=$1 --size=16M --time_based --runtime=4 \
		--output-format=json --output=/tmp/fio-r.json > /dev/null || fail "reads"
	python3 -c 'import json,sys
p=json.load(open("/tmp/fio-r.json"))["jobs"][0]["read"]["clat_ns"]["percentile"]
print("p50 %.0f us, p99 %.0f us" % (p["50.000000"]/1e3, p["99.000000"]/1e3))'
}

port=7000
for size in 1G 64G; do
	note "$size"
	HM_PORT=$port make_linked_pair s-$size d-$size $size 128 policy postcopy bandwidth 1
	[ $size = 1G ] && dd if=/dev/urandom of=/dev/mapper/s-$size bs=1M count=64 oflag=direct status=none
	wait_for 20 field_is s-$size 18 1 || fail "not ready: $(dmsetup status s-$size)"
	total=$(hm_field s-$size 4)
	must dmsetup message s-$size 0 handover
	wait_for 10 field_is d-$size 2 postcopy || fail "destination: $(dmsetup status d-$size)"
	# Prefetch starts at once: the kernel log tells the missing set at the switch.
	dmesg | grep -q "handed over in [0-9]* us: $total chunks to pull" ||
		fail "the destination did not switch with all $total chunks missing"
	echo "handover of $size ($total chunks): source fence to ack $(hm_field s-$size 28) us," \
		"destination switch $(hm_field d-$size 28) us, map $(( (total + 7) / 8 )) bytes"
	if [ $size = 1G ]; then
		echo "read misses, prefetch idle: $(read_misses 0)"
		must dmsetup message s-$size 0 set bandwidth 0
		sleep 1
		echo "read misses, prefetch saturating: $(read_misses 32M)"
		echo "pulls $(hm_field d-$size 29), average $(hm_field d-$size 30) us"
		t0=$(now_ms)
		wait_for 300 field_is d-$size 2 complete || fail "not complete: $(dmsetup status d-$size)"
		echo "complete $(( $(now_ms) - t0 )) ms after the prefetch was let go"
		assert_eq "$(md5sum < "$HM_SRC_DATA")" "$(md5sum < "$HM_DST_DATA")" "1 GiB destination"
	fi
	must dmsetup message s-$size 0 disconnect
	must dmsetup message d-$size 0 disconnect
	port=$((port + 1))
done
no_protocol_errors
