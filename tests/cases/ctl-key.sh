#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# hybridmigctl key: generate a secret file, load it as a logon key from a
# file or stdin, connect with it, unload it; wrong usage gets its exit code;
# the secret never shows in the tool's output.
. "$HM_REPO/tests/vm/lib.sh"

ctl=$HM_CTL
out=/tmp/hm-ctl-out

# ctl_expect <exit code> <args...>: run the tool, keep all its output.
ctl_expect() {
	local want=$1 rc
	shift
	"$ctl" "$@" >> $out 2>&1 < /dev/null
	rc=$?
	assert_eq "$want" "$rc" "exit code of hybridmigctl $*"
}

ctl_expect 0 key generate /tmp/hm-secret
assert_eq "600 32" "$(stat -c '%a %s' /tmp/hm-secret)" "mode and size of the secret file"
ctl_expect 5 key generate /tmp/hm-secret
ctl_expect 0 key generate /tmp/hm-secret64 --bytes 64
assert_eq 64 "$(stat -c %s /tmp/hm-secret64)" "size with --bytes 64"
ctl_expect 1 key generate /tmp/hm-x --bytes 8
ctl_expect 1 key generate
ctl_expect 1 key frobnicate
ctl_expect 1 key load nocolon /tmp/hm-secret
ctl_expect 4 key load hybridmig:a /tmp/no-such-file
head -c 8 /dev/urandom > /tmp/hm-short
ctl_expect 1 key load hybridmig:a /tmp/hm-short
head -c 200 /dev/urandom > /tmp/hm-long
ctl_expect 1 key load hybridmig:a /tmp/hm-long

ctl_expect 0 key load hybridmig:file /tmp/hm-secret
"$ctl" key load hybridmig:stdin < /tmp/hm-secret >> $out 2>&1 || fail "key load from stdin"
at_exit "keyctl purge logon hybridmig:"
keyctl search @u logon hybridmig:file > /dev/null || fail "the key is not in the user keyring"
# A logon key cannot be read back from userspace.
keyctl pipe "$(keyctl search @u logon hybridmig:file)" > /dev/null 2>&1 && fail "logon key readable"

note "the keys authenticate a link (file on one side, stdin on the other)"
make_hosts
a=$(mkloop a 16)
b=$(mkloop b 16)
dm_create hm-src "0 $(sectors "$a") hybridmig source $a - 128"
dm_create hm-dst "0 $(sectors "$b") hybridmig dest $b - 128"
must in_dst dmsetup message hm-dst 0 listen $DST_IP:7000 hybridmig:file
must in_src dmsetup message hm-src 0 connect $DST_IP:7000 hybridmig:stdin
wait_for 20 link_is hm-src connected || fail "not connected with the loaded keys: $(dmsetup status hm-src)"
"$ctl" status >> $out 2>&1
"$ctl" status --json >> $out 2>&1

ctl_expect 0 key unload hybridmig:file
ctl_expect 4 key unload hybridmig:file
keyctl search @u logon hybridmig:file > /dev/null 2>&1 && fail "key still there after unload"

note "the secret shows nowhere"
cat $out
dmesg >> $out
dmsetup table >> $out
dmsetup status >> $out
python3 - /tmp/hm-secret $out <<'PY' || fail "the secret appears in the output"
import sys
secret = open(sys.argv[1], "rb").read()
out = open(sys.argv[2], "rb").read()
for form in (secret, secret.hex().encode(), secret.hex().upper().encode()):
    assert form not in out, "secret found"
PY
