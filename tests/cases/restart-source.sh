#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# timeout: 420
# The source restarts:
#  - it loses power while tracking (its metadata writes dropped from then
#    on): it comes back with every chunk dirty and the same migration, and
#    the migration still ends with identical data;
#  - it is removed and re-created after handover: it comes back fenced
#    (writes fail), serves the destination until it completes;
#  - the documented override: a fenced source whose destination is gone is
#    unfenced; it takes a new migration id, and the old destination (itself
#    restarted from its metadata) refuses it from then on.
. "$HM_REPO/tests/vm/lib.sh"

make_hosts
mib=16
chunk=128
a=$(mkloop a $mib)
am=$(mkloop am 1)
b=$(mkloop b $mib)
bm=$(mkloop bm 1)
size=$(sectors "$a")
dd if=/dev/urandom of="$a" bs=1M count=$mib oflag=direct status=none
dm_create am-lin "0 $(sectors "$am") linear $am 0"
create_src() {
	dm_create hm-src "0 $size hybridmig source $a /dev/mapper/am-lin $chunk $*"
}
create_dst() {
	dm_create hm-dst "0 $size hybridmig dest $b $bm $chunk"
}
# new_migration_in_postcopy <KiB/s>: both metadata devices blank, a new
# pair handed over at once (policy postcopy), the prefetch at that pace;
# sets src_id.
new_migration_in_postcopy() {
	dd if=/dev/zero of="$am" bs=8k count=1 oflag=direct status=none
	dd if=/dev/zero of="$bm" bs=8k count=1 oflag=direct status=none
	create_src 4 policy postcopy bandwidth "$1"
	create_dst
	src_id=$(hm_field hm-src 33)
	must in_dst dmsetup message hm-dst 0 listen $DST_IP:7000 hybridmig:k
	must in_src dmsetup message hm-src 0 connect $DST_IP:7000 hybridmig:k
	wait_for 20 field_is hm-src 18 1 || fail "source not ready: $(dmsetup status hm-src)"
	must dmsetup message hm-src 0 handover
	wait_for 10 field_is hm-dst 2 postcopy || fail "destination phase: $(dmsetup status hm-dst)"
}

create_src 2 bandwidth 512
create_dst
src_id=$(hm_field hm-src 33)
new_key hybridmig:k > /dev/null
must in_dst dmsetup message hm-dst 0 listen $DST_IP:7000 hybridmig:k
must in_src dmsetup message hm-src 0 connect $DST_IP:7000 hybridmig:k
wait_connected hm-src hm-dst
wait_for 30 field_gt hm-src 22 10 || fail "nothing acknowledged: $(hm_push_line hm-src)"

note "the source loses power while tracking"
must dmsetup load am-lin --table "0 $(sectors "$am") flakey $am 0 0 3600 1 drop_writes"
must dmsetup resume am-lin
must dmsetup remove hm-src
must dmsetup load am-lin --table "0 $(sectors "$am") linear $am 0"
must dmsetup resume am-lin
create_src
hm_snap hm-src
assert_eq "tracking ${HM_F[4]} $src_id" "${HM_F[2]} ${HM_F[5]} ${HM_F[33]}" \
	"phase, dirty (all) and migration after a crash"
write_sectors /dev/mapper/hm-src 256 8

note "same migration: the destination takes it; push, hand over, complete"
must in_src dmsetup message hm-src 0 connect $DST_IP:7000 hybridmig:k
wait_connected hm-src hm-dst
wait_synced hm-src 120
must dmsetup message hm-src 0 handover
wait_for 30 field_is hm-dst 2 complete || fail "destination not complete: $(dmsetup status hm-dst)"
compare_data "$a" "$b" $chunk
must dmsetup remove hm-src
must dmsetup remove hm-dst

note "a source restarted after handover comes back fenced and serves"
dd if=/dev/urandom of="$a" bs=1M count=$mib oflag=direct status=none
new_migration_in_postcopy 256
must dmsetup remove hm-src
create_src
hm_snap hm-src
assert_eq "postcopy $src_id" "${HM_F[2]} ${HM_F[33]}" "phase and migration after the restart"
[ "${HM_F[5]}" -gt 0 ] || fail "the restarted source has nothing to send: ${HM_F[*]}"
dd if=/dev/zero of=/dev/mapper/hm-src bs=4k count=1 oflag=direct status=none 2>/dev/null &&
	fail "the restarted source accepted a write"
must in_src dmsetup message hm-src 0 connect $DST_IP:7000 hybridmig:k
assert_eq "$(dd if="$a" bs=1M skip=9 count=1 status=none | md5sum)" \
	"$(dd if=/dev/mapper/hm-dst bs=1M skip=9 count=1 iflag=direct status=none | md5sum)" \
	"a read on the destination, pulled from the restarted source"
wait_for 60 field_is hm-dst 2 complete || fail "destination not complete: $(dmsetup status hm-dst)"
wait_for 30 field_is hm-src 2 complete || fail "source not complete: $(dmsetup status hm-src)"
compare_data "$a" "$b" $chunk
no_protocol_errors
must dmsetup remove hm-src
must dmsetup remove hm-dst

note "override: unfence a source whose destination is gone"
new_migration_in_postcopy 64
must dmsetup remove hm-dst		# the destination's host is gone
dmsetup message hm-src 0 unfence i_know_the_destination_is_gone 2>/dev/null &&
	fail "unfence accepted while connected"
must dmsetup message hm-src 0 disconnect
dmsetup message hm-src 0 unfence 2>/dev/null && fail "unfence accepted without its confirmation"
dmsetup message hm-src 0 unfence yes 2>/dev/null && fail "unfence accepted a wrong confirmation"
must dmsetup message hm-src 0 unfence i_know_the_destination_is_gone
hm_snap hm-src
assert_eq "tracking ${HM_F[4]}" "${HM_F[2]} ${HM_F[5]}" "phase and dirty after unfence"
[ "${HM_F[33]}" != "$src_id" ] || fail "unfence kept the migration id"
write_sectors /dev/mapper/hm-src 64 8
dmesg | grep -q "unfenced by the operator" || fail "unfence was not logged"

note "the old destination, back from its metadata, refuses the unfenced source"
create_dst
assert_eq "postcopy $src_id" "$(hm_field hm-dst 2) $(hm_field hm-dst 33)" "old destination restarted"
must in_dst dmsetup message hm-dst 0 listen $DST_IP:7000 hybridmig:k
must in_src dmsetup message hm-src 0 connect $DST_IP:7000 hybridmig:k
wait_for 20 link_error_is hm-dst migration_mismatch ||
	fail "destination did not refuse: $(dmsetup status hm-dst)"
dmesg | grep -q "refused a source of another migration" || fail "refusal not logged"
assert_eq postcopy "$(hm_field hm-dst 2)" "the old destination's phase"
