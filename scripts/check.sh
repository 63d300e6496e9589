#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Everything CI runs (make check): install dependencies, build the module
# with W=1 for both Debian kernels (no warning allowed), sparse and
# checkpatch --strict clean, the tool with -Werror, then the unit and VM
# tests on both kernels. Ends with the test runner's "N passed, N failed".
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
logs=$repo/build/check
mkdir -p "$logs"

step() {
	echo "== $*"
}

# Fail on any compiler or sparse diagnostic in a build log.
no_warnings() {
	if grep -E 'warning:|error:' "$1"; then
		echo "check: diagnostics in $2 (log: $1)" >&2
		exit 1
	fi
}

step "dependencies"
scripts/install-deps.sh

# Both supported kernel series must be there: a missing one is a failure,
# never a silent skip.
kvers=$(for d in /lib/modules/*/build; do basename "$(dirname "$d")"; done)
for series in 6.1 6.12; do
	k=$(echo "$kvers" | grep -E "^${series//./\\.}[.-]" | sort -V | tail -n1) ||
		{ echo "check: no $series kernel headers installed" >&2; exit 1; }
	[ -e "/boot/vmlinuz-$k" ] || { echo "check: no $series kernel image installed" >&2; exit 1; }
	echo "kernel $series: $k"
done

step "module, W=1, every kernel"
make -s clean >/dev/null 2>&1 || true
mkdir -p "$logs"
make modules-all > "$logs/build.log" 2>&1 || { cat "$logs/build.log"; exit 1; }
no_warnings "$logs/build.log" "the module build"
ls build/*/dm-hybridmig.ko

step "sparse, every kernel"
make sparse > "$logs/sparse.log" 2>&1 || { cat "$logs/sparse.log"; exit 1; }
no_warnings "$logs/sparse.log" "sparse"
grep -c '  CHECK ' "$logs/sparse.log" | sed 's/$/ files checked/'

step "checkpatch --strict"
scripts/checkpatch.sh > "$logs/checkpatch.log" 2>&1 || { cat "$logs/checkpatch.log"; exit 1; }
if grep '^total:' "$logs/checkpatch.log" | grep -v 'total: 0 errors, 0 warnings, 0 checks'; then
	cat "$logs/checkpatch.log"
	exit 1
fi
grep '^total:' "$logs/checkpatch.log"

step "hybridmigctl"
make -C userspace > "$logs/userspace.log" 2>&1 || { cat "$logs/userspace.log"; exit 1; }
no_warnings "$logs/userspace.log" "the userspace build"

step "protocol decoder fuzzing (libFuzzer, ${HM_FUZZ_SECONDS:-60} s)"
make -C userspace fuzz FUZZ_SECONDS="${HM_FUZZ_SECONDS:-60}" > "$logs/fuzz.log" 2>&1 ||
	{ tail -n 40 "$logs/fuzz.log"; echo "check: the fuzzer failed" >&2; exit 1; }
grep -E '#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|average_exec_per_sec)' "$logs/fuzz.log"

step "tests"
exec tests/run --no-build
