#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 300
# Live adoption and detach under a running fio writer with verify: a
# two-segment linear volume (as LVM makes them) in use gets a hybridmig
# source inserted under its name (its table moves to <name>-real) and
# taken out again; the writer never sees an error and verifies its data.
# Then migrate adopts a volume in use by itself, and at completion gives
# it its table back. Refusals: tables it does not understand, a volume
# adopted already, a <name>-real in the way, detach while migrating.
. "$HM_REPO/tests/vm/lib.sh"

ctl=$HM_CTL
export HYBRIDMIG_RUN_DIR=/tmp/hm-run

loop=$(mkloop vol 32)
half=$(( $(sectors "$loop") / 2 ))
dm_create vol "0 $half linear $loop 0
$half $half linear $loop $half"
at_exit "dmsetup remove --force vol-real"
orig=$(dmsetup table vol)

note "refusals"
dm_create zero0 "0 2048 zero"
ctl_expect 4 "zero0 has a zero target: only tables of linear and striped targets can be adopted" adopt zero0
ctl_expect 4 "device nosuch not found" adopt nosuch
dm_create blocker-real "0 2048 zero"
dm_create blocker "0 2048 linear $loop 0"
ctl_expect 5 "blocker-real exists already" adopt blocker
assert_eq "0 2048 linear" "$(dmsetup table blocker | cut -d' ' -f1-3)" "blocker's table after a refused adopt"

note "adopt and detach under fio with verify"
fio --name=w --filename=/dev/mapper/vol --rw=randwrite --bs=4k --direct=1 \
	--ioengine=libaio --iodepth=8 --verify=crc32c --verify_backlog=256 \
	--verify_fatal=1 --time_based --runtime=8 > /tmp/hm-fio.txt 2>&1 &
fio_pid=$!
at_exit "kill $fio_pid"
sleep 2
must "$ctl" adopt vol --chunk-size 64K > /tmp/hm-adopt.out
cat /tmp/hm-adopt.out
grep -qE '^vol: adopted: hybridmig source over vol-real \([0-9]+:[0-9]+\); I/O held for [0-9.]+ ms$' /tmp/hm-adopt.out ||
	fail "adopt output"
assert_eq "hybridmig source" "$(dmsetup table vol | cut -d' ' -f3,4)" "vol's table after adopt"
assert_eq "$orig" "$(dmsetup table vol-real)" "vol-real's table"
assert_eq "HYBRIDMIG-REAL-vol" "$(dmsetup info -c --noheadings -o uuid vol-real)" "vol-real's uuid"
ctl_expect 5 "vol is a hybridmig device already" adopt vol
w1=$(hm_field vol 8)
sleep 2
w2=$(hm_field vol 8)
[ "$w2" -gt "$w1" ] || fail "no writes tracked after adoption ($w1, $w2)"
echo "writes tracked: $w1 -> $w2; dirty $(hm_dirty vol)"
must "$ctl" detach vol > /tmp/hm-detach.out
cat /tmp/hm-detach.out
grep -qE '^vol: detached: back on its own table; I/O held for [0-9.]+ ms$' /tmp/hm-detach.out ||
	fail "detach output"
assert_eq "$orig" "$(dmsetup table vol)" "vol's table after detach"
dmsetup info vol-real > /dev/null 2>&1 && fail "vol-real still there after detach"
wait $fio_pid || { cat /tmp/hm-fio.txt; fail "fio saw an error ($?)"; }
grep -q 'err= 0' /tmp/hm-fio.txt || { cat /tmp/hm-fio.txt; fail "fio errors"; }
assert_eq "$(data_md5 "$loop")" "$(data_md5 /dev/mapper/vol)" "the volume and its data device"

note "migrate adopts a volume in use, and gives its table back at the end"
make_hosts
dst=$(mkloop dst 32)
must "$ctl" key generate /tmp/hm-secret
in_dst "$ctl" receive vol-dst "$dst" --listen $DST_IP:7000 --key hybridmig:d \
	--key-file /tmp/hm-secret --no-wait > /dev/null || fail "receive --no-wait"
fio --name=vm --filename=/dev/mapper/vol --rw=randwrite --bs=4k --direct=1 \
	--ioengine=psync --rate=1m --verify=crc32c --verify_backlog=64 --verify_fatal=1 \
	--time_based --runtime=4 > /tmp/hm-fio2.txt 2>&1 &
fio_pid=$!
sleep 1
in_src "$ctl" migrate vol --to $DST_IP:7000 --key hybridmig:s --key-file /tmp/hm-secret \
	--hot-threshold 0 --interval 1 > /tmp/hm-mig.out 2> /tmp/hm-mig.err &
mig=$!
at_exit "kill $mig"
wait $fio_pid || { cat /tmp/hm-fio2.txt; fail "fio saw an error during the migration ($?)"; }
must "$ctl" wait vol --for ready --timeout 60
must "$ctl" handover vol
wait_for 60 eval '! kill -0 $mig 2>/dev/null' || fail "migrate still running: $(tail -n 2 /tmp/hm-mig.out)"
wait $mig || fail "migrate failed ($?): $(cat /tmp/hm-mig.err)"
cat /tmp/hm-mig.out
grep -q '^vol: adopted: hybridmig source over vol-real' /tmp/hm-mig.out || fail "migrate did not adopt"
grep -q '^vol: detached: back on its own table' /tmp/hm-mig.out || fail "migrate did not detach at the end"
assert_eq "$orig" "$(dmsetup table vol)" "vol's table after the migration"
must "$ctl" finish vol-dst --timeout 30 > /dev/null
assert_eq "linear" "$(dmsetup table vol-dst | cut -d' ' -f3)" "destination after finish"
assert_eq "$(data_md5 "$loop")" "$(data_md5 /dev/mapper/vol-dst)" "destination data"

note "detach refusals"
dm_create vol2 "0 2048 linear $loop 0"
must "$ctl" adopt vol2 > /dev/null
dm_create plain-src "0 2048 hybridmig source $loop - 128"
ctl_expect 4 "plain-src was not adopted" detach plain-src
in_dst "$ctl" receive v2-dst "$dst" --size 1M --listen $DST_IP:7001 --key hybridmig:d \
	--key-file /tmp/hm-secret --no-wait > /dev/null || fail "receive v2-dst"
in_src "$ctl" migrate vol2 --to $DST_IP:7001 --key hybridmig:s --key-file /tmp/hm-secret \
	--no-wait > /dev/null || fail "migrate --no-wait"
ctl_expect 5 "vol2 is migrating (link " detach vol2
must "$ctl" detach vol2 --force > /dev/null
assert_eq "0 2048 linear" "$(dmsetup table vol2 | cut -d' ' -f1-3)" "vol2 after detach --force"
