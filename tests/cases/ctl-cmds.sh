#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 300
# hybridmigctl's migration commands against the kernel, one option at a
# time: status --json job fields (validated against the documented list
# and the status line) during a bandwidth-limited push, set at run time,
# the progress display on a pseudo-terminal (script), wait and its
# timeout, abort (wait and migrate end with exit 8), and wrong usage:
# a destination smaller than the source, another chunk size (migrate
# exits 4 and stops retrying), another secret (exit 2), handover without
# a link, finish before handover. Each error is one line, with its code.
# Then --start-clean, --auto-handover (the first write on the destination
# hands over), --no-finish and wait --for handover.
. "$HM_REPO/tests/vm/lib.sh"

ctl=$HM_CTL
export HYBRIDMIG_RUN_DIR=/tmp/hm-run

make_hosts
a=$(mkloop a 32)
b=$(mkloop b 32)
small=$(mkloop small 16)
must "$ctl" key generate /tmp/hm-secret
must "$ctl" key generate /tmp/hm-other
dd if=/dev/urandom of="$a" bs=1M count=32 oflag=direct status=none

note "create: a destination smaller than the source"
ctl_expect 4 "$small holds 16777216 bytes, less than the source's 33554432 (--size)" \
	create dest d0 "$small" --size 32M
dmsetup info d0 > /dev/null 2>&1 && fail "d0 created"
ctl_expect 1 "invalid --size '32X'" create dest d0 "$small" --size 32X
must "$ctl" create source s "$a" --chunk-size 64K --bandwidth 2M --policy precopy --ready-chunks 4 > /dev/null
assert_eq "policy precopy bandwidth 2048 ready_chunks 4" "$(dmsetup table s | cut -d' ' -f9-)" "table options"
ctl_expect 5 "device s already exists" create source s "$a"

note "handover and finish before a migration"
ctl_expect 6 "s is not connected to its destination (link none): nothing was fenced" handover s
ctl_expect 5 "s is in phase tracking: finish waits for completion only after handover" finish s
ctl_expect 7 "s: timed out after 1 s waiting for connected (phase tracking)" wait s --for connected --timeout 1

note "another chunk size: migrate says what to do, exits 4, stops retrying"
must "$ctl" create dest g "$b" --chunk-size 32K > /dev/null
in_dst "$ctl" receive g --listen $DST_IP:7000 --key hybridmig:d --key-file /tmp/hm-secret --no-wait > /dev/null ||
	fail "receive g"
HM_NS=src ctl_expect 4 "s: the destination differs in length or chunk size: create it with --size 65536s --chunk-size 128s" \
	migrate s --to $DST_IP:7000 --key hybridmig:s --key-file /tmp/hm-secret --timeout 60
assert_eq none "$(hm_link_state s)" "source link after a geometry mismatch"
must dmsetup remove g

note "another secret: exit 2"
in_dst "$ctl" receive d "$b" --size 32M --listen $DST_IP:7000 --key hybridmig:d \
	--key-file /tmp/hm-other --no-wait > /dev/null || fail "receive d"
HM_NS=src ctl_expect 2 "s: authentication failed (bad_peer_proof): the two hosts do not hold the same secret" \
	migrate s --to $DST_IP:7000 --key hybridmig:s --key-file /tmp/hm-secret --timeout 60
must dmsetup remove d

note "a bandwidth-limited push: status --json job fields"
in_dst "$ctl" receive d "$b" --size 32M --listen $DST_IP:7000 --key hybridmig:d \
	--key-file /tmp/hm-secret --no-wait > /dev/null || fail "receive d"
in_src "$ctl" migrate s --to $DST_IP:7000 --key hybridmig:s --key-file /tmp/hm-secret \
	--interval 1 > /tmp/hm-mig.out 2> /tmp/hm-mig.err &
mig=$!
at_exit "kill $mig"
must "$ctl" wait s --for connected --timeout 30
sleep 3
# The kernel's status first: the push only shrinks what is left (nothing
# writes), so the JSON read after it cannot show more than it.
status=$(dmsetup status s)
must "$ctl" status s --json > /tmp/hm-json
python3 - /tmp/hm-json "$status" <<'PY' || fail "job JSON"
import json, sys
d = json.load(open(sys.argv[1]))["devices"][0]
f = sys.argv[2].split()
keys = ["stage", "connection", "data_total_bytes", "data_processed_bytes",
        "data_remaining_bytes", "data_rate_bytes_s", "dirty_rate_bytes_s",
        "percent", "eta_s", "elapsed_ms", "downtime_ms"]
j = d["job"]
assert list(j) == keys, list(j)
assert j["stage"] == "push", j
assert j["connection"] == "connected", j
assert j["data_total_bytes"] == 32 << 20 == d["size_bytes"], j
assert j["data_processed_bytes"] + j["data_remaining_bytes"] == j["data_total_bytes"], j
assert 0 < j["data_remaining_bytes"] < 32 << 20, j
assert j["data_remaining_bytes"] <= (int(f[7]) + int(f[21])) * 65536 + 65536 * 16, (j, f)
assert isinstance(j["percent"], float) and 0 < j["percent"] < 100, j
assert j["elapsed_ms"] is not None and 1000 < j["elapsed_ms"] < 60000, j
assert j["downtime_ms"] is None, j
assert d["transfer"]["bandwidth_kib_s"] == 2048, d["transfer"]
assert j["eta_s"] is None or j["eta_s"] > 0, j
print("job:", j)
PY

note "progress on a pseudo-terminal"
script -qec "$HM_CTL wait s --for ready --progress --timeout 4" /tmp/hm-tty.log > /dev/null
rc=$?
cat -v /tmp/hm-tty.log | tail -c 600
echo
assert_eq 7 "$rc" "exit code of wait --progress that times out"
grep -q $'\r\e\[Ks: \[[#.]\{20\}\] push [0-9.]*% ' /tmp/hm-tty.log || fail "no refreshed progress line with a bar"
[ "$(grep -c $'\r\e\[K' /tmp/hm-tty.log)" -le 2 ] || fail "the progress line was not redrawn in place"

note "set at run time"
ctl_expect 1 "invalid bandwidth '1X'" set s bandwidth 1X
must "$ctl" set s bandwidth 0
assert_eq 0 "$(hm_field s 27)" "bandwidth after set"
must "$ctl" set s policy hybrid
assert_eq hybrid "$(hm_field s 17)" "policy after set"
must "$ctl" wait s --for ready --timeout 60
wait_for 10 grep -q "^s: ready for handover: pause the VM, then run 'hybridmigctl handover s'$" /tmp/hm-mig.out ||
	fail "migrate's hint: $(cat /tmp/hm-mig.out)"

note "abort: migrate and wait end with exit 8"
in_dst "$ctl" wait d --for complete > /tmp/hm-wait.out 2> /tmp/hm-wait.err &
waiter=$!
sleep 1
must "$ctl" abort s > /tmp/hm-abort.out
assert_eq "s: migration aborted; the VM stays here; remove the destination" "$(cat /tmp/hm-abort.out)" "abort output"
wait $mig
assert_eq 8 $? "exit code of migrate after abort"
assert_eq "hybridmigctl: error: s: the migration was aborted or disconnected" "$(cat /tmp/hm-mig.err)" "migrate's error"
wait $waiter
assert_eq 8 $? "exit code of wait on the aborted destination"
assert_eq "hybridmigctl: error: d: the source aborted the migration: remove this destination" \
	"$(cat /tmp/hm-wait.err)" "wait's error"
ctl_expect 8 "d: the source aborted the migration" wait d --for complete --timeout 5
assert_eq "$(hm_dirty s)" "$(hm_field s 4)" "every chunk dirty after abort"

note "handover refusals after a handover"
must dmsetup remove d
in_dst "$ctl" receive d "$b" --size 32M --listen $DST_IP:7000 --key hybridmig:d \
	--key-file /tmp/hm-secret --no-wait > /dev/null || fail "receive d again"
in_src "$ctl" migrate s --to $DST_IP:7000 --key hybridmig:s --key-file /tmp/hm-secret --no-wait > /dev/null ||
	fail "migrate --no-wait"
must "$ctl" wait s --for ready --timeout 60
must "$ctl" handover s > /dev/null
ctl_expect 5 "s is in phase " handover s
ctl_expect 5 "s was handed over (phase " abort s
ctl_expect 5 "already handed over" migrate s --to $DST_IP:7000 --key hybridmig:s
must "$ctl" wait d --for complete --timeout 60
must "$ctl" status --json > /tmp/hm-json
python3 - /tmp/hm-json <<'PY' || fail "job JSON after handover"
import json, sys
for d in json.load(open(sys.argv[1]))["devices"]:
    j = d["job"]
    assert j["stage"] == "complete" and j["percent"] == 100.0 and j["eta_s"] == 0, j
    assert j["data_remaining_bytes"] == 0, j
    if d["role"] == "source":
        assert j["downtime_ms"] is not None and j["downtime_ms"] >= 1, j
print("ok")
PY
must "$ctl" finish d > /dev/null
must "$ctl" finish s > /tmp/hm-finish.out
assert_eq "s: complete; source removed" "$(cat /tmp/hm-finish.out)" "finish output"
compare_data "$a" "$b"
no_protocol_errors

note "--start-clean, --auto-handover, --no-finish, wait --for handover"
c=$(mkloop c 8)
e=$(mkloop e 8)
must "$ctl" create source s2 "$c" --start-clean > /dev/null
assert_eq "1 start_clean" "$(dmsetup table s2 | cut -d' ' -f8-)" "start_clean in the table"
assert_eq 0 "$(hm_dirty s2)" "dirty chunks of a clean start"
write_sectors /dev/mapper/s2 2048 128
in_dst "$ctl" receive d2 "$e" --auto-handover --no-finish --listen $DST_IP:7001 \
	--key hybridmig:d --key-file /tmp/hm-secret --interval 1 > /tmp/hm-r2.out 2>&1 &
r2=$!
at_exit "kill $r2"
wait_for 20 eval 'link_is d2 listening 2>/dev/null' || fail "d2 not listening"
assert_eq "1 auto_handover" "$(dmsetup table d2 | cut -d' ' -f8-)" "auto_handover in the table"
in_src "$ctl" migrate s2 --no-finish --to $DST_IP:7001 --key hybridmig:s \
	--key-file /tmp/hm-secret --interval 1 > /tmp/hm-m2.out 2>&1 &
m2=$!
at_exit "kill $m2"
must "$ctl" wait s2 --for ready --timeout 60
# The VM's first write on the destination hands over.
write_sectors /dev/mapper/d2 0 8
must "$ctl" wait s2 --for handover --timeout 30
wait $r2 || fail "receive --no-finish failed: $(cat /tmp/hm-r2.out)"
wait $m2 || fail "migrate --no-finish failed: $(cat /tmp/hm-m2.out)"
assert_eq "hybridmig complete" "$(dmsetup table d2 | cut -d' ' -f3) $(hm_field d2 2)" "destination left as it was"
assert_eq complete "$(hm_field s2 2)" "source left as it was"
must "$ctl" finish d2 > /dev/null
must "$ctl" finish s2 > /dev/null
dd if=/dev/mapper/d2 bs=512 skip=2048 count=128 iflag=direct status=none | cmp - <(dd if="$c" bs=512 skip=2048 count=128 status=none) ||
	fail "the chunk written before the migration did not move"
