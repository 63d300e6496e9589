#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The libvirt hook's command sequences, with a stub hybridmigctl that logs
# its arguments (and answers "udev" from $STUB_STATE, fails "$STUB_FAIL").
# No libvirt, no kernel needed. Ends with "N passed, M failed".
set -u

here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

sed "s|@SBINDIR@|/nonexistent|" "$here/hybridmig.in" > "$tmp/hook"
chmod +x "$tmp/hook"
cat > "$tmp/hybridmigctl" <<'STUB'
#!/bin/bash
echo "$*" >> "$STUB_LOG"
[ "$1" = udev ] && printf '%s\n' $STUB_STATE
[ "$1" = "${STUB_FAIL:-}" ] && exit 4
exit 0
STUB
chmod +x "$tmp/hybridmigctl"
mkdir "$tmp/conf"
cat > "$tmp/conf/vm1.conf" <<'CONF'
DISK=vm1
DEST_VOLUME=/dev/vg/vm1
LISTEN=192.0.2.2:7000
KEY=hybridmig:vm1
KEY_FILE=/etc/hybridmig/vm1.key
FINISH_TIMEOUT=600
CONF
export HYBRIDMIGCTL=$tmp/hybridmigctl HYBRIDMIG_CONF_DIR=$tmp/conf
export HYBRIDMIG_HOOK_LOG=$tmp/hook.log STUB_LOG=$tmp/calls

# check NAME RC CALLS DOMAIN OP SUB: the hook's exit code and the calls.
check() {
	local name=$1 want_rc=$2 want=$3 rc out
	shift 3
	rm -f "$tmp/calls"
	out=$("$tmp/hook" "$@" - < /dev/null)
	rc=$?
	sleep 0.2	# the background finish
	if [ "$rc" = "$want_rc" ] && [ -z "$out" ] &&
	   [ "$(cat "$tmp/calls" 2>/dev/null)" = "$want" ]; then
		echo "PASS: $name"
		passed=$((passed + 1))
	else
		echo "FAIL: $name (exit $rc, stdout '$out')"
		sed 's/^/    | /' "$tmp/calls" 2>/dev/null
		failed=$((failed + 1))
	fi
}

check "destination: receive, then finish in the background" 0 \
"receive vm1 /dev/vg/vm1 --listen 192.0.2.2:7000 --key hybridmig:vm1 --key-file /etc/hybridmig/vm1.key --auto-handover --no-wait
finish vm1 --timeout 600" vm1 migrate begin
STUB_FAIL=receive check "destination: a failed receive fails the migration" 1 \
"receive vm1 /dev/vg/vm1 --listen 192.0.2.2:7000 --key hybridmig:vm1 --key-file /etc/hybridmig/vm1.key --auto-handover --no-wait" \
	vm1 migrate begin
STUB_STATE="HYBRIDMIG_ROLE=source HYBRIDMIG_PHASE=tracking HYBRIDMIG_LINK=connected" \
	check "source left, before handover: handover, then finish" 0 \
"udev vm1
handover vm1
finish vm1 --timeout 600" vm1 stopped end
STUB_STATE="HYBRIDMIG_ROLE=source HYBRIDMIG_PHASE=postcopy HYBRIDMIG_LINK=connected" \
	check "source left, handed over already (auto_handover): finish" 0 \
"udev vm1
finish vm1 --timeout 600" vm1 stopped end
STUB_STATE="HYBRIDMIG_ROLE=source HYBRIDMIG_PHASE=tracking HYBRIDMIG_LINK=none" \
	check "source stopped, not migrating: nothing" 0 "udev vm1" vm1 stopped end
STUB_STATE="" check "disk not hybridmig: nothing" 0 "udev vm1" vm1 stopped end
check "other operations: nothing" 0 "" vm1 start begin
check "domain without a config: nothing" 0 "" vm2 migrate begin
grep -q ' vm1 migrate begin$' "$tmp/hook.log" || { echo "FAIL: no log"; failed=$((failed + 1)); }

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
