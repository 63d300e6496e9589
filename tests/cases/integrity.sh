#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 600
# Data written through the target verifies (fio crc32c, random and
# sequential, 512 B to 1 MiB, unaligned to chunks, with flushes and FUA),
# and a device fed the same writes as a dm-linear twin ends up
# byte-identical to it.
. "$HM_REPO/tests/vm/lib.sh"

command -v fio >/dev/null || fail "fio is not installed"
MIB=48
data=$(mkloop data $MIB)
twin=$(mkloop twin $MIB)
size=$(sectors "$data")
dm_create hm "0 $size hybridmig source $data - 128"
dm_create lin "0 $size linear $twin 0"

fio_verify() {
	local name=$1
	shift
	note "fio $name"
	fio --name="$name" --filename=/dev/mapper/hm --direct=1 --ioengine=libaio \
		--iodepth=16 --verify=crc32c --verify_fatal=1 --do_verify=1 \
		--output-format=terse --terse-version=3 "$@" > "/tmp/hm-fio-$name.out" 2>&1 ||
		{ cat "/tmp/hm-fio-$name.out"; fail "fio $name: verification failed"; }
}

# The twin: the same write stream (offsets from a fixed seed, each block
# stamped with its own offset) and discards on both.
twin_job() {
	fio --name=twin --filename="$1" --direct=1 --ioengine=libaio --iodepth=1 \
		--rw=randwrite --bssplit=512/25:4k/25:64k/25:136k/25 --blockalign=512 \
		--randrepeat=1 --randseed=4242 --number_ios=1500 --norandommap \
		--verify=pattern --verify_pattern=%o --do_verify=0 \
		--output-format=terse > /dev/null 2>&1 || fail "twin fio on $1"
	must blkdiscard -o $((5 * 65536 + 4096)) -l $((3 * 65536)) "$1"
	must blkdiscard -z -o $((70 * 65536)) -l 70144 "$1"
	must dd if=/tmp/hm-pattern of="$1" bs=512 seek=1000 oflag=direct status=none
}
must dd if=/dev/urandom of=/tmp/hm-pattern bs=512 count=300 status=none
twin_job /dev/mapper/hm
twin_job /dev/mapper/lin
a=$(md5 /dev/mapper/hm)
b=$(md5 /dev/mapper/lin)
assert_eq "$b" "$a" "md5 of hybridmig vs its dm-linear twin"
assert_eq "$a" "$(md5 "$data")" "md5 of the data device under hybridmig"

# Both devices started as zeroes; now crc32c-verified writes on top.
fio_verify rand-mixed --rw=randwrite --bssplit=512/20:4k/30:12k/20:68k/20:200k/10 --blockalign=512
fio_verify rand-512 --rw=randwrite --bs=512 --size=4M --offset=16M
fio_verify seq-68k --rw=write --bs=68k
fio_verify seq-1m --rw=write --bs=1M --offset=512
# Flushes (fsync: REQ_PREFLUSH) and FUA writes (O_DSYNC on a block device).
fio_verify rand-fsync --rw=randwrite --bs=16k --size=8M --offset=24M --fsync=4
fio_verify rand-fua --rw=randwrite --bs=8k --size=8M --offset=36M --sync=dsync

