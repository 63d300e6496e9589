#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# checkpatch.pl --strict over the kernel sources. checkpatch is not in the
# headers packages; it is taken from Debian's linux-source-6.1 tarball.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
tarball=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -n1)
[ -n "$tarball" ] || { echo "checkpatch: install linux-source-6.1 (make deps)" >&2; exit 1; }
dir=$repo/build/checkpatch
if [ ! -x "$dir/scripts/checkpatch.pl" ]; then
	mkdir -p "$dir"
	tar -xJf "$tarball" -C "$dir" --strip-components=1 --wildcards \
		'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch'
fi

cd "$repo"
"$dir/scripts/checkpatch.pl" --strict --no-tree --show-types --color=never \
	--max-line-length=100 -f dm-hybridmig*.c dm-hybridmig*.h
