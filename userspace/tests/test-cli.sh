#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# End-to-end tests of hybridmigctl built against a fake libdevmapper
# (tests/fake-libdm.c): output, error lines and exit codes, no kernel needed.
#
# Usage: tests/test-cli.sh tests/hybridmigctl-fake
#
# Prints one line per test and ends with "N passed, M failed".

set -u

bin=${1:?usage: $0 path/to/hybridmigctl-fake}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HYBRIDMIG_RUN_DIR=$tmp/run
passed=0
failed=0

# vm2 and vm2-dst are a source pushing (hybrid) and its destination, with
# the 27 fields of the push phase's target (no post-copy fields); vm3 and
# vm3-dst, real lines of the post-copy VM test, a migration (postcopy
# policy) complete after 288 pulls and a link cut: vm3 with the 30 fields
# of the post-copy target (no state fields), vm3-dst with the 33 of this
# version (no metadata device); vm1 (precopy, converged, bandwidth limit,
# metadata ok) has two fields more than this version knows; old has the
# 16 fields of target 1.1 (no transfer fields) and multi the 8 of target
# 1.0, after a linear target; empty has no table.
id=5f0c2a7e91b84d3c8a6e2f1b0d9c7e35
DEVS='vm2|hybridmig|204800|source tracking 128 1600 1200 3 4 77 connected 192.0.2.2:7000 0 - 78774272 41280 1240 1230 hybrid 0 16 416 16 400 26214400 51200 12 3 0'
DEVS+=';lin|linear|100|7:0 0'
DEVS+=';vm1|hybridmig|300|source tracking 128 3 3 0 4 1 connected 192.0.2.2:7000 2 - 10 20 3 4 precopy 1 0 0 0 0 0 0 0 0 10240 0 0 0 ok 0 '$id' 9 9'
DEVS+=';empty'
DEVS+=';multi|linear|100|7:0 0|hybridmig|2048|source tracking 8 256 1 1 4 5'
DEVS+=';vm2-dst|hybridmig|204800|dest waiting 128 1600 1200 0 4 0 connected 192.0.2.2:7000 0 - 41280 78774272 1230 1240 - 1 0 400 16 400 26214400 1153434 0 0 0'
DEVS+=';vm3|hybridmig|98304|source complete 64 1536 0 0 4 0 connected 192.0.2.2:7000 1 connection_reset 59794768 26704 360 404 postcopy 0 0 1536 0 1536 50331648 13647 0 0 0 10074 288 0'
DEVS+=';vm3-dst|hybridmig|98304|dest complete 64 1536 0 0 4 0 connected 192.0.2.2:7000 1 peer_closed 26704 59794768 404 360 - 1 0 1824 0 1536 59768832 393 0 0 0 603 288 48363 - 0 '$id
DEVS+=';old|hybridmig|2048|source tracking 8 256 256 0 4 0 retrying 192.0.2.2:7000 0 connection_refused 0 0 0 0'

# run ARGS...: run the command with the current HM_FAKE_DM*.
run()
{
	"$bin" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

result()
{
	if [ "$1" = 1 ]; then
		echo "PASS: $2"
		passed=$((passed + 1))
	else
		echo "FAIL: $2"
		failed=$((failed + 1))
	fi
}

show()
{
	echo "    $1:"
	sed 's/^/    | /' "$2"
}

# expect NAME RC STDOUT STDERR: exact stdout and stderr.
expect()
{
	local ok=1

	if [ "$rc" != "$2" ]; then
		echo "    exit code $rc, expected $2"
		ok=0
	fi
	if [ "$out" != "$3" ]; then
		show stdout "$tmp/out"
		ok=0
	fi
	if [ "$err" != "$4" ]; then
		show stderr "$tmp/err"
		ok=0
	fi
	result $ok "$1"
}

# expect_grep NAME RC PATTERN: stdout matches PATTERN, stderr is empty.
expect_grep()
{
	local ok=1

	if [ "$rc" != "$2" ]; then
		echo "    exit code $rc, expected $2"
		ok=0
	fi
	if ! grep -q -e "$3" "$tmp/out"; then
		show stdout "$tmp/out"
		ok=0
	fi
	if [ -n "$err" ]; then
		show stderr "$tmp/err"
		ok=0
	fi
	result $ok "$1"
}

hint='; see hybridmigctl --help'

test_output()
{
	export HM_FAKE_DM=$DEVS

	run status
	expect "table of all hybridmig devices, sorted" 0 \
"NAME     ROLE    PHASE     CHUNK  CHUNKS  DIRTY  DIRTY%  HOT  WRITES  POLICY    READY  ACKED     RATE  PULLS  META  ERRORS  MIGRATION                         LINK
multi    source  tracking     4K     256      1     0.4    1       5  -         -          -        -      -  -          -  -                                 none
old      source  tracking     4K     256    256   100.0    0       0  -         -          -        -      -  -          -  -                                 retrying:connection_refused
vm1      source  tracking    64K       3      3   100.0    0       1  precopy   yes        0        0      0  ok         0  5f0c2a7e91b84d3c8a6e2f1b0d9c7e35  connected
vm2      source  tracking    64K    1600   1200    75.0    3      77  hybrid    no       400  50.0M/s      -  -          -  -                                 connected
vm2-dst  dest    waiting     64K    1600   1200    75.0    0       0  -         yes      400   1.1G/s      -  -          -  -                                 connected
vm3      source  complete    32K    1536      0     0.0    0       0  postcopy  no      1536  13.3M/s    288  -          -  -                                 connected:connection_reset
vm3-dst  dest    complete    32K    1536      0     0.0    0       0  -         yes     1536   393K/s    288  none       0  5f0c2a7e91b84d3c8a6e2f1b0d9c7e35  connected:peer_closed" ""

	run status vm2
	expect "table of one device" 0 \
"NAME  ROLE    PHASE     CHUNK  CHUNKS  DIRTY  DIRTY%  HOT  WRITES  POLICY  READY  ACKED     RATE  PULLS  META  ERRORS  MIGRATION  LINK
vm2   source  tracking    64K    1600   1200    75.0    3      77  hybrid  no       400  50.0M/s      -  -          -  -          connected" ""

	run status /dev/mapper/vm1 --json
	expect "json of one device given by path, size-capped dirty_bytes" 0 \
'{
  "devices": [
    {
      "name": "vm1",
      "role": "source",
      "phase": "tracking",
      "chunk_sectors": 128,
      "chunk_bytes": 65536,
      "total_chunks": 3,
      "dirty_chunks": 3,
      "dirty_bytes": 153600,
      "hot_chunks": 0,
      "hot_threshold": 4,
      "write_bios": 1,
      "size_bytes": 153600,
      "link": {
        "state": "connected",
        "address": "192.0.2.2:7000",
        "last_error": null,
        "reconnects": 2,
        "tx_bytes": 10,
        "rx_bytes": 20,
        "tx_frames": 3,
        "rx_frames": 4
      },
      "transfer": {
        "policy": "precopy",
        "ready": true,
        "inflight_chunks": 0,
        "sent_chunks": 0,
        "zero_chunks": 0,
        "acked_chunks": 0,
        "data_bytes": 0,
        "rate_kib_s": 0,
        "dirty_rate_chunks_s": 0,
        "deferred_chunks": 0,
        "bandwidth_kib_s": 10240,
        "handover_us": 0,
        "pulls": 0,
        "pull_avg_us": 0
      },
      "metadata": "ok",
      "io_errors": 0,
      "migration_id": "5f0c2a7e91b84d3c8a6e2f1b0d9c7e35",
      "job": {
        "stage": "ready",
        "connection": "connected",
        "data_total_bytes": 153600,
        "data_processed_bytes": 0,
        "data_remaining_bytes": 153600,
        "data_rate_bytes_s": 0,
        "dirty_rate_bytes_s": 0,
        "percent": 0.0,
        "eta_s": null,
        "elapsed_ms": null,
        "downtime_ms": null
      }
    }
  ]
}' ""

	run status vm2-dst --json
	expect "json of a destination (27 fields): policy null, ready true, post-copy and state fields null" 0 \
'{
  "devices": [
    {
      "name": "vm2-dst",
      "role": "dest",
      "phase": "waiting",
      "chunk_sectors": 128,
      "chunk_bytes": 65536,
      "total_chunks": 1600,
      "dirty_chunks": 1200,
      "dirty_bytes": 78643200,
      "hot_chunks": 0,
      "hot_threshold": 4,
      "write_bios": 0,
      "size_bytes": 104857600,
      "link": {
        "state": "connected",
        "address": "192.0.2.2:7000",
        "last_error": null,
        "reconnects": 0,
        "tx_bytes": 41280,
        "rx_bytes": 78774272,
        "tx_frames": 1230,
        "rx_frames": 1240
      },
      "transfer": {
        "policy": null,
        "ready": true,
        "inflight_chunks": 0,
        "sent_chunks": 400,
        "zero_chunks": 16,
        "acked_chunks": 400,
        "data_bytes": 26214400,
        "rate_kib_s": 1153434,
        "dirty_rate_chunks_s": 0,
        "deferred_chunks": 0,
        "bandwidth_kib_s": 0,
        "handover_us": null,
        "pulls": null,
        "pull_avg_us": null
      },
      "metadata": null,
      "io_errors": null,
      "migration_id": null,
      "job": {
        "stage": "waiting",
        "connection": "connected",
        "data_total_bytes": 104857600,
        "data_processed_bytes": 26214400,
        "data_remaining_bytes": 78643200,
        "data_rate_bytes_s": 1181116416,
        "dirty_rate_bytes_s": 0,
        "percent": 25.0,
        "eta_s": 1,
        "elapsed_ms": null,
        "downtime_ms": null
      }
    }
  ]
}' ""

	run status vm3 --json
	expect "json of a source after post-copy (30 fields): handover, pulls served, state null" 0 \
'{
  "devices": [
    {
      "name": "vm3",
      "role": "source",
      "phase": "complete",
      "chunk_sectors": 64,
      "chunk_bytes": 32768,
      "total_chunks": 1536,
      "dirty_chunks": 0,
      "dirty_bytes": 0,
      "hot_chunks": 0,
      "hot_threshold": 4,
      "write_bios": 0,
      "size_bytes": 50331648,
      "link": {
        "state": "connected",
        "address": "192.0.2.2:7000",
        "last_error": "connection_reset",
        "reconnects": 1,
        "tx_bytes": 59794768,
        "rx_bytes": 26704,
        "tx_frames": 360,
        "rx_frames": 404
      },
      "transfer": {
        "policy": "postcopy",
        "ready": false,
        "inflight_chunks": 0,
        "sent_chunks": 1536,
        "zero_chunks": 0,
        "acked_chunks": 1536,
        "data_bytes": 50331648,
        "rate_kib_s": 13647,
        "dirty_rate_chunks_s": 0,
        "deferred_chunks": 0,
        "bandwidth_kib_s": 0,
        "handover_us": 10074,
        "pulls": 288,
        "pull_avg_us": 0
      },
      "metadata": null,
      "io_errors": null,
      "migration_id": null,
      "job": {
        "stage": "complete",
        "connection": "connected",
        "data_total_bytes": 50331648,
        "data_processed_bytes": 50331648,
        "data_remaining_bytes": 0,
        "data_rate_bytes_s": 13974528,
        "dirty_rate_bytes_s": 0,
        "percent": 100.0,
        "eta_s": 0,
        "elapsed_ms": null,
        "downtime_ms": 11
      }
    }
  ]
}' ""

	run status vm3-dst --json
	expect_grep "json of a destination after post-copy: pull latency" 0 \
		'^        "pull_avg_us": 48363$'
	expect_grep "json of a destination without metadata device: none" 0 \
		'^      "metadata": "none",$'
	expect_grep "json of a destination's adopted migration id" 0 \
		"^      \"migration_id\": \"$id\",\$"

	run status old --json
	expect_grep "json of a target without transfer fields: null" 0 \
		'^      "transfer": null,$'

	run status --json
	expect_grep "json of all devices" 0 '"name": "vm2"'
	local ok=0
	[ "$(grep -c '"name"' "$tmp/out")" = 7 ] && ok=1
	result $ok "json of all devices has the 7 hybridmig ones, no other"

	run --json status
	expect "--json is an option of status" 1 "" \
		"hybridmigctl: error: unknown option '--json'$hint"

	run status --json multi
	expect_grep "json: option before NAME; hybridmig after linear target" \
		0 '"size_bytes": 1048576'
}

# A source whose metadata device failed, after 2 I/O errors.
test_state()
{
	local sick="sick|hybridmig|98304|source tracking 64 1536 12 0 4 9 none - 0 - 0 0 0 0 hybrid 0 0 0 0 0 0 0 0 0 0 0 0 0 failed 2 $id"
	local warn='hybridmigctl: warning: sick: '

	export HM_FAKE_DM="$sick"
	run status
	expect "table: metadata FAILED and I/O errors stand out" 0 \
"NAME  ROLE    PHASE     CHUNK  CHUNKS  DIRTY  DIRTY%  HOT  WRITES  POLICY  READY  ACKED  RATE  PULLS  META    ERRORS  MIGRATION                         LINK
sick  source  tracking    32K    1536     12     0.8    0       9  hybrid  no         0     0      0  FAILED       2  $id  none" \
"${warn}metadata FAILED (re-create the device once the metadata device works; see hybridmig-metadata.rst)
${warn}2 I/O errors on the data or metadata device"

	run status sick --json
	expect_grep "json: metadata failed" 0 '^      "metadata": "failed",$'
	expect_grep "json: io_errors" 0 '^      "io_errors": 2,$'

	export HM_FAKE_DM="${sick/failed 2/ok 1}"
	run status sick
	local ok=0
	[ "$rc" = 0 ] && grep -q "  ok  *1  $id  none\$" "$tmp/out" &&
		[ "$err" = "${warn}1 I/O error on the data or metadata device" ] &&
		ok=1
	result $ok "table: metadata ok, one I/O error, a warning"
}

test_no_devices()
{
	export HM_FAKE_DM='lin|linear|100|7:0 0'

	run status
	expect "no hybridmig devices: empty stdout" 0 "" \
		"hybridmigctl: no hybridmig devices"

	run status --json
	expect "no hybridmig devices: empty json list" 0 \
'{
  "devices": [
  ]
}' ""
}

test_wrong_device()
{
	export HM_FAKE_DM=$DEVS

	run status nope
	expect "NAME not found" 4 "" "hybridmigctl: error: device nope not found"

	run status lin --json
	expect "NAME not hybridmig" 4 "" \
		"hybridmigctl: error: lin is not a hybridmig device"

	run status empty
	expect "NAME without a table" 4 "" \
		"hybridmigctl: error: empty is not a hybridmig device"

	run status ""
	expect "empty NAME" 4 "" "hybridmigctl: error: invalid device name ''"

	run status -- -x
	expect "NAME after --" 4 "" "hybridmigctl: error: device -x not found"
}

test_bad_status()
{
	export HM_FAKE_DM="$DEVS;bad|hybridmig|100|source tracking 128 1 1 0 4"

	run status bad
	expect "status with too few fields" 6 "" \
		"hybridmigctl: error: cannot parse status of bad"

	export HM_FAKE_DM="$DEVS;bad|hybridmig|100|source tracking 128 1 one 0 4 0"
	run status --json
	expect "listing stops at a non-numeric field" 6 "" \
		"hybridmigctl: error: cannot parse status of bad"

	local link='connected 192.0.2.2:7000 0 - 1 2 3 4'
	export HM_FAKE_DM="$DEVS;bad|hybridmig|100|source tracking 128 1 1 0 4 0 $link hybrid 0 1 2 3 4 5 6 7 8"
	run status bad
	expect "status with 26 fields (one transfer field missing)" 6 "" \
		"hybridmigctl: error: cannot parse status of bad"

	export HM_FAKE_DM="$DEVS;bad|hybridmig|100|source tracking 128 1 1 0 4 0 $link hybrid 2 1 2 3 4 5 6 7 8 9"
	run status bad --json
	expect "status with ready neither 0 nor 1" 6 "" \
		"hybridmigctl: error: cannot parse status of bad"

	local xfer='hybrid 0 1 2 3 4 5 6 7 8 9'
	export HM_FAKE_DM="$DEVS;bad|hybridmig|100|source postcopy 128 1 1 0 4 0 $link $xfer 10"
	run status bad
	expect "status with 28 fields (two post-copy fields missing)" 6 "" \
		"hybridmigctl: error: cannot parse status of bad"

	export HM_FAKE_DM="$DEVS;bad|hybridmig|100|source postcopy 128 1 1 0 4 0 $link $xfer 10 11"
	run status bad
	expect "status with 29 fields (one post-copy field missing)" 6 "" \
		"hybridmigctl: error: cannot parse status of bad"

	export HM_FAKE_DM="$DEVS;bad|hybridmig|100|dest postcopy 128 1 1 0 4 0 $link $xfer 10 -1 12"
	run status bad --json
	expect "status with a negative pull count" 6 "" \
		"hybridmigctl: error: cannot parse status of bad"

	export HM_FAKE_DM="$DEVS;bad|hybridmig|100|dest postcopy 128 1 1 0 4 0 $link $xfer 10 11 18446744073709551616"
	run status bad --json
	expect "status with pull_avg_us above 2^64-1" 6 "" \
		"hybridmigctl: error: cannot parse status of bad"

	export HM_FAKE_DM="$DEVS;bad|hybridmig|100|dest postcopy 128 1 1 0 4 0 $link $xfer 10 11 12 ok 0"
	run status bad
	expect "status with 32 fields (migration_id missing)" 6 "" \
		"hybridmigctl: error: cannot parse status of bad"

	export HM_FAKE_DM="$DEVS;bad|hybridmig|100|dest postcopy 128 1 1 0 4 0 $link $xfer 10 11 12 ok x $id"
	run status bad --json
	expect "status with a non-numeric io_errors" 6 "" \
		"hybridmigctl: error: cannot parse status of bad"

	export HM_FAKE_DM="$DEVS;bad|hybridmig|100|dest postcopy 128 1 1 0 4 0 $link $xfer 10 11 12 ok 0 ${id}0"
	run status bad
	expect "status with a 33-digit migration_id" 6 "" \
		"hybridmigctl: error: cannot parse status of bad"
}

test_dm_failures()
{
	export HM_FAKE_DM=$DEVS

	HM_FAKE_DM_FAIL=open:13 run status
	expect "permission denied" 2 "" \
		"hybridmigctl: error: cannot list device-mapper devices: /dev/mapper/control: open failed: Permission denied"

	HM_FAKE_DM_FAIL=open:19 run status vm1
	expect "no device-mapper driver: first libdm error kept" 6 "" \
		"hybridmigctl: error: cannot read status of vm1: /dev/mapper/control: open failed: No such device"

	HM_FAKE_DM_FAIL=ioctl:16 run status vm1
	expect "ioctl busy" 5 "" \
		"hybridmigctl: error: cannot read status of vm1: device-mapper: status ioctl on vm1 failed: Device or resource busy"

	HM_FAKE_DM_FAIL=ioctl:5 run status
	expect "ioctl I/O error" 6 "" \
		"hybridmigctl: error: cannot list device-mapper devices: device-mapper: list ioctl on  failed: Input/output error"

	HM_FAKE_DM_FAIL=nomem run status
	expect "out of memory" 3 "" "hybridmigctl: error: out of memory"

	if [ -w /dev/full ]; then
		"$bin" status >/dev/full 2>"$tmp/err"
		rc=$?
		out=""
		err=$(cat "$tmp/err")
		expect "output cannot be written" 6 "" \
			"hybridmigctl: error: cannot write output: No space left on device"
	fi
}

test_usage()
{
	export HM_FAKE_DM=$DEVS

	run
	expect "no command" 1 "" "hybridmigctl: error: missing command$hint"

	run frobnicate
	expect "unknown command" 1 "" \
		"hybridmigctl: error: unknown command 'frobnicate'$hint"

	run --frob status
	expect "unknown option" 1 "" "hybridmigctl: error: unknown option '--frob'$hint"

	run status --jason
	expect "unknown status option" 1 "" \
		"hybridmigctl: error: unknown option '--jason' for status$hint"

	run status vm1 vm2
	expect "two names" 1 "" \
		"hybridmigctl: error: unexpected argument 'vm2': status takes at most one device name$hint"

	run --help
	expect_grep "--help lists commands" 0 '^  status \[NAME\] \[--json\]'
	expect_grep "--help lists exit codes" 0 '^  6  unexpected failure'

	run status --help
	expect_grep "status --help" 0 '^Usage: hybridmigctl status \[NAME\] \[--json\]'
	expect_grep "status --help explains the transfer columns" 0 '^  READY    '
	expect_grep "status --help explains PULLS" 0 '^  PULLS    '
	expect_grep "status --help explains META" 0 '^  META     '
	expect_grep "status --help names the post-copy phases" 0 'complete or aborted$'

	run --version
	expect_grep "--version" 0 '^hybridmigctl [0-9][0-9.]*$'
}

# The migration commands: usage errors, the tables and messages sent
# (recorded by the fake in $tmp/dm.log), and the kernel's refusals.
test_migration_usage()
{
	export HM_FAKE_DM=$DEVS
	local c

	for c in create receive migrate handover abort set wait finish adopt detach; do
		run $c --help
		expect_grep "$c --help" 0 "^Usage: hybridmigctl $c "
	done

	run create
	expect "create without arguments" 1 "" \
		"hybridmigctl: error: create needs ROLE (source or dest), NAME and DEV$hint"
	run create mirror x /dev/null
	expect "create: bad role" 1 "" \
		"hybridmigctl: error: invalid role 'mirror' for create: expected source or dest$hint"
	run create source x /dev/null --chunk-size 3K
	expect "create: bad chunk size" 1 "" \
		"hybridmigctl: error: invalid --chunk-size '3K' for create: expected a power of two from 4K to 1M$hint"
	run create source x /dev/null --policy fast
	expect "create: bad policy" 1 "" \
		"hybridmigctl: error: invalid --policy 'fast' for create: expected hybrid, precopy or postcopy$hint"
	run create source x /dev/null --size 1M
	expect "create: --size on a source" 1 "" \
		"hybridmigctl: error: --size and --auto-handover are options of a destination$hint"
	run create dest x /dev/null --policy precopy
	expect "create: --policy on a destination" 1 "" \
		"hybridmigctl: error: --policy, --bandwidth, --hot-threshold, --ready-chunks and --start-clean are options of a source$hint"
	run create source x /dev/null --bandwidth 2T
	expect "create: bandwidth too large" 1 "" \
		"hybridmigctl: error: invalid --bandwidth '2T' for create: expected KiB/s, or a rate with K, M or G, 0 for no limit$hint"
	run create source x /dev/null --hot-threshold 16
	expect "create: hot threshold too large" 1 "" \
		"hybridmigctl: error: invalid --hot-threshold '16' for create: expected 0 to 15$hint"
	run create source x /dev/null --frob
	expect "create: unknown option" 1 "" \
		"hybridmigctl: error: unknown option '--frob' for create$hint"
	run create source x /dev/null --policy
	expect "create: option without its value" 1 "" \
		"hybridmigctl: error: option '--policy' of create needs a value$hint"
	run create source x /dev/null extra
	expect "create: extra argument" 1 "" \
		"hybridmigctl: error: unexpected argument 'extra' for create$hint"
	run create source x /dev/null
	expect "create: not a block device" 4 "" \
		"hybridmigctl: error: /dev/null is not a block device"
	run create source x /nonexistent
	expect "create: no such device" 4 "" \
		"hybridmigctl: error: cannot open /nonexistent: No such file or directory"

	run migrate vm2
	expect "migrate without --to" 1 "" \
		"hybridmigctl: error: migrate needs --to HOST:PORT$hint"
	run migrate vm2 --to 192.0.2.2:7000
	expect "migrate without --key" 1 "" \
		"hybridmigctl: error: migrate needs --key DESCRIPTION$hint"
	run migrate vm2 --to host:0 --key a:b
	expect "migrate: bad address" 1 "" \
		"hybridmigctl: error: invalid --to 'host:0' for migrate: expected a.b.c.d:port or [v6]:port$hint"
	run migrate vm2 --listen 192.0.2.2:7000 --key a:b
	expect "migrate does not listen" 1 "" \
		"hybridmigctl: error: unknown option '--listen' for migrate$hint"
	run receive vm2-dst --to 192.0.2.2:7000 --key a:b
	expect "receive does not connect" 1 "" \
		"hybridmigctl: error: unknown option '--to' for receive$hint"
	run migrate vm2-dst --to 192.0.2.2:7000 --key a:b
	expect "migrate a destination" 4 "" \
		"hybridmigctl: error: vm2-dst is a destination, not a source"
	run migrate vm3 --to 192.0.2.2:7000 --key a:b
	expect "migrate a source handed over" 5 "" \
		"hybridmigctl: error: vm3 is in phase complete: already handed over"
	run migrate vm2 --to 192.0.2.9:7000 --key a:b
	expect "migrate a source linked elsewhere" 5 "" \
		"hybridmigctl: error: vm2 is linked to 192.0.2.2:7000 already: abort that migration first"
	run migrate nope --to 192.0.2.2:7000 --key a:b
	expect "migrate a missing device" 4 "" "hybridmigctl: error: device nope not found"

	run wait vm2 --for lunch
	expect "wait: bad event" 1 "" \
		"hybridmigctl: error: invalid --for 'lunch' for wait: expected connected, ready, handover or complete$hint"
	run wait vm2 --timeout soon
	expect "wait: bad timeout" 1 "" \
		"hybridmigctl: error: invalid --timeout 'soon' for wait: expected a number of seconds$hint"
	run wait vm3 --for complete
	expect "wait for what is there" 0 "" ""
	run wait vm2 --for complete --timeout 1
	expect "wait times out" 7 "" \
		"hybridmigctl: error: vm2: timed out after 1 s waiting for complete (phase tracking); nothing was changed"

	run set vm2 speed 10
	expect "set: unknown parameter" 1 "" \
		"hybridmigctl: error: unknown parameter 'speed' for set: expected bandwidth, policy, hot_threshold or ready_chunks$hint"
	run set vm2 bandwidth fast
	expect "set: bad bandwidth" 1 "" \
		"hybridmigctl: error: invalid bandwidth 'fast': expected KiB/s, or a rate with K, M or G, 0 for no limit$hint"
	run set vm2-dst policy precopy
	expect "set on a destination" 4 "" \
		"hybridmigctl: error: vm2-dst is a destination: it has no tunables"

	run handover vm2-dst
	expect "handover of a destination" 4 "" \
		"hybridmigctl: error: vm2-dst is a destination, not a source"
	run handover vm3
	expect "handover twice" 5 "" \
		"hybridmigctl: error: vm3 is in phase complete: handed over already"
	run handover old
	expect "handover on target 1.1" 6 "" \
		"hybridmigctl: error: the kernel module of old has no handover (hybridmig target 1.2 or older)"
	run abort lin
	expect "abort of a linear device" 4 "" "hybridmigctl: error: lin is not a hybridmig device"
	run detach vm2-dst
	expect "detach a destination" 4 "" \
		"hybridmigctl: error: vm2-dst is a destination: detach is for an adopted source"
	run adopt vm2
	expect "adopt a hybridmig device" 5 "" \
		"hybridmigctl: error: vm2 is a hybridmig device already"
}

test_migration_messages()
{
	local vm4='vm4|hybridmig|204800|source tracking 128 1600 1200 3 4 77 connected 192.0.2.2:7000 0 - 78774272 41280 1240 1230 hybrid 1 16 416 16 400 26214400 51200 12 3 0 0 0 0'
	local vm5='vm5|hybridmig|2048|source tracking 8 256 256 0 4 0 none - 0 - 0 0 0 0 hybrid 0 0 0 0 0 0 0 0 0 0 0 0 0'
	export HM_FAKE_DM="$DEVS;$vm4;$vm5" HM_FAKE_DM_LOG=$tmp/dm.log
	rm -f "$tmp/dm.log"

	run set vm2 bandwidth 50M
	expect "set bandwidth with a suffix" 0 "" ""
	run set vm2 policy precopy
	expect "set policy" 0 "" ""
	run handover vm2
	expect "handover on a target without one" 6 "" \
		"hybridmigctl: error: the kernel module of vm2 has no handover (hybridmig target 1.2 or older)"
	run handover vm4
	expect_grep "handover" 0 '^vm4: handed over in 0.0 ms; 1200 chunks (75.0 MiB) left to send; resume the VM on the destination$'
	run abort vm2
	expect "abort" 0 "vm2: migration aborted; the VM stays here; remove the destination" ""
	HM_FAKE_DM_FAIL=message:1 run abort vm3
	expect "abort after handover" 5 "" \
		"hybridmigctl: error: vm3 was handed over (phase complete): it cannot be aborted; the migration can only complete"
	HM_FAKE_DM_FAIL=message:110 run handover vm4
	expect "handover timed out in the kernel" 7 "" \
		"hybridmigctl: error: vm4: no acknowledgement within 30 s: the source stays fenced and goes on; wait for phase postcopy ('hybridmigctl wait vm4 --for handover')"
	run handover vm5
	expect "handover without a link" 6 "" \
		"hybridmigctl: error: vm5 is not connected to its destination (link none): nothing was fenced"
	HM_FAKE_DM_FAIL=message:126 run migrate vm5 --to 192.0.2.2:7000 --key a:b --no-wait
	expect "connect with a missing key" 4 "" \
		"hybridmigctl: error: vm5: no logon key 'a:b' in the keyring: load it with 'hybridmigctl key load a:b FILE', or give --key-file"
	run migrate vm5 --to 192.0.2.2:7000 --key a:b --no-wait --bandwidth 1M
	expect "migrate --no-wait, with a new bandwidth" 0 "vm5: migrating to 192.0.2.2:7000" ""
	run adopt lin --chunk-size 4K --start-clean
	expect "adopt" 0 "lin: adopted: hybridmig source over lin-real (0:0); I/O held for 0.0 ms" ""

	local want
	want="message vm2: set bandwidth 51200
message vm2: set policy precopy
message vm4: handover
message vm2: abort
message vm5: set bandwidth 1024
message vm5: connect 192.0.2.2:7000 a:b
create lin-real uuid=HYBRIDMIG-REAL-lin: 0 100 linear 7:0 0
reload lin: 0 100 hybridmig source 0:0 - 8 1 start_clean
resume lin"
	local ok=1
	[ "$(cat "$tmp/dm.log")" = "$want" ] || { show "dm log" "$tmp/dm.log"; ok=0; }
	result $ok "messages and tables sent"
	unset HM_FAKE_DM_LOG
}

test_output
test_state
test_no_devices
test_wrong_device
test_bad_status
test_dm_failures
test_usage
test_migration_usage
test_migration_messages

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
