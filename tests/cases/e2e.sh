#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 600
# End-to-end integrity, for each policy: seeded random writes on the source
# while it pushes; "pause" (the writer stops); handover; seeded writes with
# fio verify on the destination during post-copy; at completion the
# destination equals a reference built by replaying the same writes on a
# plain copy of the disk, and fio verifies the destination's writes.
. "$HM_REPO/tests/vm/lib.sh"

chunk=64	# 32 KiB: chunk-straddling writes are common
port=7000
for policy in hybrid precopy postcopy; do
	note "policy $policy"
	HM_PORT=$port make_linked_pair s-$policy d-$policy 24M $chunk policy $policy
	src=$HM_SRC_DATA
	dst=$HM_DST_DATA
	ref=/tmp/ref-$policy.img
	dd if=/dev/urandom of=/dev/mapper/s-$policy bs=1M count=24 oflag=direct status=none
	seed=$((port * 7))
	# The VM on the source: 1k..96k writes, unaligned to chunks.
	fio --filename=/dev/mapper/s-$policy --name=src --rw=randwrite --bsrange=1k-96k \
		--blockalign=1k --direct=1 --ioengine=psync --randseed=$seed \
		--size=24M --number_ios=300 --rate=2m > /dev/null || fail "source writer"
	[ $policy = postcopy ] || wait_for 90 field_is s-$policy 18 1 ||
		fail "not ready: $(dmsetup status s-$policy)"
	must dmsetup message s-$policy 0 handover
	must cp /tmp/hm-s-$policy.img "$ref"	# the source at handover
	at_exit "rm -f $ref"
	# The VM on the destination, during post-copy (verify headers in place).
	# Offset-stamped data: the same bytes on any replay (verify headers
	# carry a time), and a misplaced write shows.
	job=(--rw=randwrite --bsrange=1k-64k --blockalign=1k --direct=1 --ioengine=psync
	     --randseed=$((seed + 1)) --offset=4M --size=12M --number_ios=300
	     --verify=pattern --verify_pattern=%o --do_verify=0)
	fio --filename=/dev/mapper/d-$policy --name=dst "${job[@]}" > /tmp/fio-d.txt ||
		{ cat /tmp/fio-d.txt; fail "destination writer"; }
	fio --filename="$ref" --name=dst "${job[@]}" --direct=0 > /dev/null ||
		fail "replay on the reference"
	wait_for 120 field_is d-$policy 2 complete || fail "not complete: $(dmsetup status d-$policy)"
	wait_for 30 field_is s-$policy 2 complete || fail "source not complete: $(dmsetup status s-$policy)"
	assert_eq "$(md5sum < "$ref")" "$(md5sum < "$dst")" "destination vs reference ($policy)"
	fio --filename=/dev/mapper/d-$policy --name=dst "${job[@]}" --verify_only > /tmp/fio-v.txt ||
		{ cat /tmp/fio-v.txt; fail "fio verify on the destination ($policy)"; }
	echo "$policy: source $(hm_push_line s-$policy)"
	must dmsetup message s-$policy 0 disconnect
	must dmsetup message d-$policy 0 disconnect
	port=$((port + 1))
done
no_protocol_errors
