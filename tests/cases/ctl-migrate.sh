#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 300
# The three-command happy path of hybridmigctl, end to end, with verify:
# "receive" on the destination host, "migrate" on the source host while
# the VM writes, "handover" once the VM is paused; the VM then writes on
# the destination during post-copy. receive cuts the destination over to
# linear at completion, migrate removes the source; the destination holds
# the source's data at handover plus its own writes, and fio verifies
# them. Progress lines (not a terminal) are checked for their fields.
. "$HM_REPO/tests/vm/lib.sh"

ctl=$HM_CTL
export HYBRIDMIG_RUN_DIR=/tmp/hm-run
make_hosts
a=$(mkloop src 16)
b=$(mkloop dst 24)		# a larger volume than the source is fine
size=$(blockdev --getsize64 "$a")

must "$ctl" key generate /tmp/hm-secret
must "$ctl" create source vm1 "$a" --chunk-size 32K > /tmp/hm-create.out
assert_eq "created source vm1 over $a" "$(cat /tmp/hm-create.out)" "create output"
assert_eq "hybridmig source - 64" "$(dmsetup table vm1 | cut -d' ' -f3,4,6,7)" "source table"
assert_eq "HYBRIDMIG-SRC-vm1" "$(dmsetup info -c --noheadings -o uuid vm1)" "source uuid"
dd if=/dev/urandom of=/dev/mapper/vm1 bs=1M count=16 oflag=direct status=none

note "1. receive on the destination host"
in_dst "$ctl" receive vm1-dst "$b" --size "$size" --chunk-size 32K \
	--listen $DST_IP:7000 --key hybridmig:dst --key-file /tmp/hm-secret \
	--interval 1 > /tmp/hm-recv.out 2> /tmp/hm-recv.err &
recv=$!
at_exit "kill $recv"
wait_for 20 eval 'link_is vm1-dst listening 2>/dev/null' || fail "destination not listening: $(cat /tmp/hm-recv.err)"
assert_eq "HYBRIDMIG-DST-vm1-dst" "$(dmsetup info -c --noheadings -o uuid vm1-dst)" "destination uuid"
keyctl search @u logon hybridmig:dst > /dev/null 2>&1 && fail "the --key-file key stayed in the keyring"

note "2. migrate on the source host, while the VM writes"
in_src "$ctl" migrate vm1 --to $DST_IP:7000 --key hybridmig:src --key-file /tmp/hm-secret \
	--interval 1 > /tmp/hm-mig.out 2> /tmp/hm-mig.err &
mig=$!
at_exit "kill $mig"
# The VM: offset-stamped writes, the same bytes on any replay.
job=(--rw=randwrite --bsrange=1k-64k --blockalign=1k --direct=1 --ioengine=psync
     --verify=pattern --verify_pattern=%o --do_verify=0)
fio --filename=/dev/mapper/vm1 --name=vm "${job[@]}" --randseed=11 --size=16M \
	--number_ios=400 --rate=2m > /tmp/hm-fio1.txt || { cat /tmp/hm-fio1.txt; fail "source writer"; }
wait_for 90 grep -q "ready for handover" /tmp/hm-mig.out ||
	fail "migrate never said ready: $(tail -n 3 /tmp/hm-mig.out; cat /tmp/hm-mig.err)"

note "3. handover, once the VM is paused"
must "$ctl" handover vm1 > /tmp/hm-ho.out
cat /tmp/hm-ho.out
grep -qE '^vm1: handed over in [0-9.]+ ms; [0-9]+ chunks \(.*\) left to send; resume the VM on the destination$' /tmp/hm-ho.out ||
	fail "handover output: $(cat /tmp/hm-ho.out)"
cp "$a" /tmp/hm-ref.img		# the source at handover
# Fenced (or, if complete already, removed by migrate).
dd if=/dev/zero of=/dev/mapper/vm1 bs=4k count=1 oflag=direct conv=nocreat status=none 2>/dev/null &&
	fail "the source took a write after handover"

note "the VM runs on the destination during post-copy"
fio --filename=/dev/mapper/vm1-dst --name=vm "${job[@]}" --randseed=12 --offset=2M \
	--size=8M --number_ios=200 > /tmp/hm-fio2.txt || { cat /tmp/hm-fio2.txt; fail "destination writer"; }
fio --filename=/tmp/hm-ref.img --name=vm "${job[@]}" --direct=0 --randseed=12 --offset=2M \
	--size=8M --number_ios=200 > /dev/null || fail "replay on the reference"

note "receive and migrate end by themselves at completion"
wait_for 120 eval '! kill -0 $recv 2>/dev/null' || fail "receive still running: $(tail -n 2 /tmp/hm-recv.out)"
wait $recv || fail "receive failed ($?): $(cat /tmp/hm-recv.err)"
wait_for 60 eval '! kill -0 $mig 2>/dev/null' || fail "migrate still running: $(tail -n 2 /tmp/hm-mig.out)"
wait $mig || fail "migrate failed ($?): $(cat /tmp/hm-mig.err)"
echo "--- receive:"; cat /tmp/hm-recv.out
echo "--- migrate:"; cat /tmp/hm-mig.out
[ -s /tmp/hm-recv.err ] && fail "receive wrote errors: $(cat /tmp/hm-recv.err)"
[ -s /tmp/hm-mig.err ] && fail "migrate wrote errors: $(cat /tmp/hm-mig.err)"

note "the outcome: linear destination, no source, the data"
assert_eq "0 $((size / 512)) linear" "$(dmsetup table vm1-dst | cut -d' ' -f1-3)" "destination table after receive"
dmsetup info vm1 > /dev/null 2>&1 && fail "the source is still there"
grep -q "^vm1-dst: complete; now linear over " /tmp/hm-recv.out || fail "receive's last line"
grep -q "^vm1: complete; source removed$" /tmp/hm-mig.out || fail "migrate's last line"
ref=$(md5sum < /tmp/hm-ref.img | cut -d' ' -f1)
got=$(head -c "$size" "$b" | md5sum | cut -d' ' -f1)
assert_eq "$ref" "$got" "destination data vs the source at handover plus the destination's writes"
fio --filename=/dev/mapper/vm1-dst --name=vm "${job[@]}" --randseed=12 --offset=2M \
	--size=8M --number_ios=200 --verify_only > /tmp/hm-fio3.txt || { cat /tmp/hm-fio3.txt; fail "fio verify"; }

note "progress lines (not a terminal): every field, each stage"
line='^vm1: [a-z]+ [0-9]+\.[0-9]% [0-9.]+ [KMG]?i?B of 16\.0 MiB, [0-9.]+ [KMG]?i?B left, [0-9.]+ [KMG]?i?B/s, dirty [0-9.]+ [KMG]?i?B/s, ETA ([0-9]+:[0-9][0-9]|-), link [a-z]+$'
grep -E '^vm1: [a-z]+ [0-9]' /tmp/hm-mig.out | grep -vE "$line" && fail "malformed progress lines above"
for stage in push ready complete; do
	grep -qE "^vm1: $stage " /tmp/hm-mig.out || fail "no '$stage' progress line from migrate"
done
# The stages come in order. Post-copy may be over before migrate looks
# again (the little left at handover goes in under a second), so the
# handover and postcopy lines are optional. Push and ready may alternate
# (the VM's writes can undo convergence); going back past them never is.
stages=$(sed -nE 's/^vm1: (push|ready|handover|postcopy|complete) [0-9].*/\1/p' /tmp/hm-mig.out | uniq | tr '\n' ' ')
[[ "$stages" =~ ^((push|ready) )*(handover )?(postcopy )?complete\ $ ]] ||
	fail "progress stages out of order: $stages"

grep -qE '^vm1: complete 100\.0% 16\.0 MiB of 16\.0 MiB, 0 B left, .*ETA 0:00' /tmp/hm-mig.out ||
	fail "migrate's last progress line"
grep -qE '^vm1-dst: (waiting|postcopy) ' /tmp/hm-recv.out || fail "no progress line from receive"
grep -q $'\r' /tmp/hm-mig.out && fail "terminal control characters in plain output"
no_protocol_errors
