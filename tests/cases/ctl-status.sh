#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# hybridmigctl status against the real kernel: the table and the JSON agree
# with dmsetup status; wrong usage gets its documented exit code.
. "$HM_REPO/tests/vm/lib.sh"

ctl=$HM_CTL
[ -x "$ctl" ] || fail "hybridmigctl not built: $ctl"

# expect_exit <code> <stderr substring> <args...>
expect_exit() {
	local want=$1 msg=$2 rc
	shift 2
	"$ctl" "$@" > /tmp/hm-out 2> /tmp/hm-err
	rc=$?
	assert_eq "$want" "$rc" "exit code of hybridmigctl $*"
	grep -qF -- "$msg" /tmp/hm-err || fail "hybridmigctl $*: stderr '$(cat /tmp/hm-err)' lacks '$msg'"
	[ "$(wc -l < /tmp/hm-err)" -le 1 ] || fail "hybridmigctl $*: more than one error line"
}

expect_exit 0 "no hybridmig devices" status
[ -s /tmp/hm-out ] && fail "output with no devices: $(cat /tmp/hm-out)"

a=$(mkloop a 32)
b=$(mkloop b 16)
dm_create vm-a "0 $(sectors "$a") hybridmig source $a - 128"
dm_create vm-b "0 $(sectors "$b") hybridmig source $b - 8 3 start_clean hot_threshold 2"
dm_create plain "0 $(sectors "$b") zero"
write_sectors /dev/mapper/vm-b 0 8
write_sectors /dev/mapper/vm-b 0 8
write_sectors /dev/mapper/vm-b 64 8

must "$ctl" status > /tmp/hm-table 2> /tmp/hm-err
cat /tmp/hm-table
assert_eq 3 "$(wc -l < /tmp/hm-table)" "lines of the status table (header + 2)"
grep -q '^NAME' /tmp/hm-table || fail "no header line"
# No metadata device, no I/O error; a new source makes up its migration id.
assert_eq "vm-b source tracking 4K 4096 2 0.1 1 3 hybrid no 0 0 0 none 0 $(hm_field vm-b 33) none" "$(grep '^vm-b ' /tmp/hm-table | tr -s ' ')" "vm-b row"
assert_eq "vm-a source tracking 64K 512 512 100.0 0 0 hybrid no 0 0 0 none 0 $(hm_field vm-a 33) none" "$(grep '^vm-a ' /tmp/hm-table | tr -s ' ')" "vm-a row"
[ -s /tmp/hm-err ] && fail "warnings without a failure: $(cat /tmp/hm-err)"
grep -q '^plain ' /tmp/hm-table && fail "a zero target was listed"

# JSON: exactly the documented fields, and the same numbers as dmsetup.
must "$ctl" status vm-b --json > /tmp/hm-json
python3 - /tmp/hm-json "$(dmsetup status vm-b)" <<'PY' || fail "JSON does not match dmsetup status"
import json, sys
doc = json.load(open(sys.argv[1]))
f = sys.argv[2].split()
fields = {"name", "role", "phase", "chunk_sectors", "chunk_bytes", "total_chunks",
          "dirty_chunks", "dirty_bytes", "hot_chunks", "hot_threshold", "write_bios",
          "size_bytes", "link", "transfer", "metadata", "io_errors",
          "migration_id", "job"}
assert list(doc) == ["devices"], doc
assert len(doc["devices"]) == 1, doc
d = doc["devices"][0]
assert set(d) == fields, set(d) ^ fields
want = {"name": "vm-b", "size_bytes": int(f[1]) * 512, "role": f[3], "phase": f[4],
        "chunk_sectors": int(f[5]), "chunk_bytes": int(f[5]) * 512,
        "total_chunks": int(f[6]), "dirty_chunks": int(f[7]),
        "dirty_bytes": int(f[7]) * int(f[5]) * 512, "hot_chunks": int(f[8]),
        "hot_threshold": int(f[9]), "write_bios": int(f[10]),
        "link": {"state": f[11], "address": None if f[12] == "-" else f[12],
                 "reconnects": int(f[13]), "last_error": None if f[14] == "-" else f[14],
                 "tx_bytes": int(f[15]), "rx_bytes": int(f[16]),
                 "tx_frames": int(f[17]), "rx_frames": int(f[18])},
        "transfer": {"policy": f[19], "ready": f[20] == "1",
                     **{k: int(v) for k, v in zip(
                         ["inflight_chunks", "sent_chunks", "zero_chunks",
                          "acked_chunks", "data_bytes", "rate_kib_s",
                          "dirty_rate_chunks_s", "deferred_chunks",
                          "bandwidth_kib_s", "handover_us", "pulls",
                          "pull_avg_us"], f[21:33])}},
        "metadata": "none" if f[33] == "-" else f[33], "io_errors": int(f[34]),
        "migration_id": None if f[35] == "-" else f[35]}
# 33 fields, or more from a later kernel (appended; the tool ignores them).
assert len(f) >= 36, f
assert d["metadata"] == "none" and d["io_errors"] == 0, d
assert len(d["migration_id"]) == 32, d
assert list(d)[-5:] == ["transfer", "metadata", "io_errors", "migration_id", "job"], list(d)
job = d.pop("job")
assert job["stage"] == "idle" and job["connection"] == "none", job
assert job["data_total_bytes"] == want["size_bytes"], job
assert job["data_remaining_bytes"] == want["dirty_bytes"], job
assert job["elapsed_ms"] is None and job["downtime_ms"] is None, job
assert d == want, (d, want)
print("json ok:", d)
PY
must "$ctl" status --json > /tmp/hm-json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [x["name"] for x in d["devices"]] == ["vm-a", "vm-b"], d' /tmp/hm-json ||
	fail "JSON list of all devices"

expect_exit 4 "plain" status plain
expect_exit 4 "nosuch" status nosuch
expect_exit 1 "--help" status --frobnicate
expect_exit 1 "--help" frobnicate
must "$ctl" --help > /dev/null
