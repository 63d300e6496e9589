#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 420
# A filesystem migrates: ext4 on the source with a file workload, unmount,
# handover, mount on the destination while chunks are still missing (the
# prefetch is throttled), read every file and compare checksums, fsck
# clean after completion.
. "$HM_REPO/tests/vm/lib.sh"

make_linked_pair hm-src hm-dst 64M 128
must mkfs.ext4 -q -F /dev/mapper/hm-src
mkdir -p /tmp/mnt-src /tmp/mnt-dst
must mount /dev/mapper/hm-src /tmp/mnt-src
for i in $(seq 1 40); do
	head -c $(( (i * 37 % 700 + 1) * 1024 )) /dev/urandom > /tmp/mnt-src/f$i
done
mkdir /tmp/mnt-src/dir && cp /tmp/mnt-src/f1* /tmp/mnt-src/dir/
for i in $(seq 1 20); do	# a file workload: rewrites and appends
	head -c 4096 /dev/urandom | dd of=/tmp/mnt-src/f$i bs=4096 seek=$((i % 3)) conv=notrunc status=none
	head -c 8192 /dev/urandom >> /tmp/mnt-src/f$((i + 20))
done
(cd /tmp/mnt-src && find . -type f -exec md5sum {} + | sort -k2) > /tmp/sums
must umount /tmp/mnt-src	# the VM is paused: its filesystem is clean
must dmsetup message hm-src 0 set bandwidth 64
must dmsetup message hm-src 0 handover
missing=$(hm_field hm-dst 5)
echo "missing at handover: $missing"
must mount /dev/mapper/hm-dst /tmp/mnt-dst
[ "$(hm_field hm-dst 2)" = postcopy ] || fail "the destination completed before the mount: nothing was missing"
(cd /tmp/mnt-dst && find . -type f -exec md5sum {} + | sort -k2) > /tmp/sums-dst
diff /tmp/sums /tmp/sums-dst || fail "files differ on the destination"
echo "read every file with $(hm_field hm-dst 5) chunks still missing, $(hm_field hm-dst 29) pulled"
echo "new file on the destination" > /tmp/mnt-dst/new
must umount /tmp/mnt-dst
must dmsetup message hm-src 0 set bandwidth 0
wait_for 120 field_is hm-dst 2 complete || fail "not complete: $(dmsetup status hm-dst)"
must fsck.ext4 -n -f /dev/mapper/hm-dst
must mount -o ro /dev/mapper/hm-dst /tmp/mnt-dst
assert_eq "new file on the destination" "$(cat /tmp/mnt-dst/new)" "the destination's own file"
must umount /tmp/mnt-dst
no_protocol_errors
