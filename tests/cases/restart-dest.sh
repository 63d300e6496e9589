#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 360
# The destination's host loses power during post-copy. Its data and
# metadata devices sit on dm-linear, switched to dm-flakey drop_writes at
# the "power cut" (what was written before stays, nothing after lands).
# Re-created over the same devices, the destination resumes post-copy: the
# VM's writes whose flush completed (O_DSYNC) are there and are never
# replaced by the source's data; the rest is pulled again, and the
# migration completes with the right data everywhere.
. "$HM_REPO/tests/vm/lib.sh"

make_hosts
mib=32
chunk=64	# sectors: 32 KiB
a=$(mkloop a $mib)
b=$(mkloop b $mib)
bm=$(mkloop bm 1)
size=$(sectors "$a")
dd if=/dev/urandom of="$a" bs=1M count=$mib oflag=direct status=none
dm_create b-lin "0 $size linear $b 0"
dm_create bm-lin "0 $(sectors "$bm") linear $bm 0"

dm_create hm-src "0 $size hybridmig source $a - $chunk 4 policy postcopy bandwidth 256"
create_dst() {
	dm_create hm-dst "0 $size hybridmig dest /dev/mapper/b-lin /dev/mapper/bm-lin $chunk"
}
create_dst
assert_eq ok "$(hm_field hm-dst 31)" "destination metadata state"
new_key hybridmig:k > /dev/null
must in_dst dmsetup message hm-dst 0 listen $DST_IP:7000 hybridmig:k
must in_src dmsetup message hm-src 0 connect $DST_IP:7000 hybridmig:k
wait_for 20 field_is hm-src 18 1 || fail "source not ready: $(dmsetup status hm-src)"
src_id=$(hm_field hm-src 33)
assert_eq "$src_id" "$(hm_field hm-dst 33)" "migration id adopted by the destination"
must dmsetup message hm-src 0 handover
wait_for 10 field_is hm-dst 2 postcopy || fail "destination phase: $(dmsetup status hm-dst)"

# The source is fenced: its data is what the destination must end up with,
# plus the VM's writes on the destination.
cp /tmp/hm-a.img /tmp/expected.img
at_exit "rm -f /tmp/expected.img"

note "the VM reads (pulls) and writes durably (O_DSYNC) on the destination"
for off in 2 9 20; do
	assert_eq "$(dd if="$a" bs=1M skip=$off count=1 status=none | md5sum)" \
		"$(dd if=/dev/mapper/hm-dst bs=1M skip=$off count=1 iflag=direct status=none | md5sum)" \
		"MiB $off read on the destination"
done
# dsync_write <byte offset> <bytes>: random data, durable when dd returns;
# the same bytes go into the expected image.
dsync_write() {
	head -c "$2" /dev/urandom > /tmp/w.bin
	dd if=/tmp/w.bin of=/dev/mapper/hm-dst bs="$2" seek="$1" oflag=direct,dsync,seek_bytes \
		conv=notrunc status=none || fail "durable write at $1 failed"
	dd if=/tmp/w.bin of=/tmp/expected.img bs="$2" seek="$1" oflag=seek_bytes \
		conv=notrunc status=none
}
dsync_write $((5 * 1048576 + 4096)) 4096		# part of a missing chunk
dsync_write $((7 * 1048576)) 32768			# a whole missing chunk
dsync_write $((11 * 1048576 + 30720)) 8192		# across two chunks
dsync_write $((2 * 1048576 + 512)) 1024			# a chunk pulled before
missing=$(hm_field hm-dst 5)
[ "$missing" -gt 100 ] || fail "too little left for post-copy: $(dmsetup status hm-dst)"

note "power cut: from now on nothing the destination writes lands"
for d in b-lin:$b bm-lin:$bm; do
	must dmsetup load "${d%%:*}" --table "0 $(sectors "${d#*:}") flakey ${d#*:} 0 0 3600 1 drop_writes"
	must dmsetup resume "${d%%:*}"
done
# A write that is not durable when the power goes may be lost: not checked.
dd if=/dev/urandom of=/dev/mapper/hm-dst bs=4k count=1 seek=$((3 * 256)) oflag=direct \
	status=none || fail "write during the power cut"
must dmsetup remove hm-dst
for d in b-lin:$b bm-lin:$bm; do
	must dmsetup load "${d%%:*}" --table "0 $(sectors "${d#*:}") linear ${d#*:} 0"
	must dmsetup resume "${d%%:*}"
done

note "the destination comes back in post-copy"
create_dst
hm_snap hm-dst
assert_eq postcopy "${HM_F[2]}" "phase after the restart"
assert_eq "$src_id" "${HM_F[33]}" "migration id after the restart"
[ "${HM_F[5]}" -gt 0 ] || fail "nothing missing after the restart: ${HM_F[*]}"
echo "restarted: ${HM_F[5]} chunks missing (before the cut: $missing)"
# The durable writes are there before any source is back: reading them
# must not wait for a pull (which would also bring the source's old data).
for r in "$((5 * 1048576 + 4096)) 4096" "$((7 * 1048576)) 32768" \
	 "$((11 * 1048576 + 30720)) 8192" "$((2 * 1048576 + 512)) 1024"; do
	set -- $r
	assert_eq "$(dd if=/tmp/expected.img bs="$2" skip="$1" iflag=skip_bytes count=1 status=none | md5sum)" \
		"$(timeout 5 dd if=/dev/mapper/hm-dst bs="$2" skip="$1" iflag=direct,skip_bytes count=1 status=none | md5sum)" \
		"durable write at $1 after the restart"
done

note "the source reconnects by itself; the migration completes"
must in_dst dmsetup message hm-dst 0 listen $DST_IP:7000 hybridmig:k
must dmsetup message hm-src 0 set bandwidth 0
wait_for 120 field_is hm-dst 2 complete || fail "destination not complete: $(dmsetup status hm-dst)"
wait_for 30 field_is hm-src 2 complete || fail "source not complete: $(dmsetup status hm-src)"
no_protocol_errors
compare_data /tmp/expected.img /tmp/hm-b.img $chunk
assert_eq 0 "$(hm_field hm-dst 32)" "I/O errors on the destination"

note "once complete, a restart stays complete"
must dmsetup remove hm-dst
create_dst
assert_eq "complete 0" "$(hm_field hm-dst 2) $(hm_field hm-dst 5)" "phase and missing after a restart"
