#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 240
# Handover costs the same whatever the disk size: with nothing pushed
# (policy postcopy), a 64 MiB and a 64 GiB disk (sparse) hand over with
# every chunk missing; the map crosses in a few frames. Prints the times
# (source fence to ack, destination switch); asserts the missing counts.
. "$HM_REPO/tests/vm/lib.sh"

port=7000
for size in 64M 64G; do
	note "$size"
	HM_PORT=$port make_linked_pair s-$size d-$size $size 128 policy postcopy bandwidth 1
	wait_for 20 field_is s-$size 18 1 || fail "not ready: $(dmsetup status s-$size)"
	total=$(hm_field s-$size 4)
	must dmsetup message s-$size 0 handover
	wait_for 10 field_is d-$size 2 postcopy || fail "destination: $(dmsetup status d-$size)"
	# Prefetch starts at once: the kernel log tells the missing set at the switch.
	dmesg | grep -q "handed over in [0-9]* us: $total chunks to pull" ||
		fail "the destination did not switch with all $total chunks missing"
	echo "handover of $size ($total chunks): source fence to ack $(hm_field s-$size 28) us," \
		"destination switch $(hm_field d-$size 28) us, map $(( (total + 7) / 8 )) bytes"
	must dmsetup message s-$size 0 disconnect
	must dmsetup message d-$size 0 disconnect
	port=$((port + 1))
done
no_protocol_errors
