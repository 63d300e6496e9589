#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Runs inside the benchmark VM (chrooted into the build machine's root, see
# tests/vm/init): the pass-through overhead of a hybridmig source device
# against dm-linear over the same backing device, with fio.
#
# usage: guest-overhead.sh <kver> <results_dir> [--quick] [--rounds N]
#                          [--backing loop|brd|null_blk] [--chunk SECTORS]
#                          [--ko PATH]
#
# --chunk: hybridmig's chunk size (default 128 sectors, 64 KiB).
# --ko: the module to load (default: build/<kver>/dm-hybridmig.ko).
#
# Each round of each workload creates both devices afresh over the backing
# device, runs ONE fio process whose two jobs measure them back to back
# (dm-linear first in odd rounds, hybridmig first in even ones), and removes
# them. One fio start per round, not per run: under TCG fio takes seconds
# to load its 60-odd libraries over 9p, and adjacent runs see the same
# (shared, noisy) host.
#
# Writes <results_dir>/overhead.json on success; on failure writes the reason
# to <results_dir>/FAILED, leaves no overhead.json and exits non-zero. A
# missed speed goal is never a failure; a failed fio run always is.
set -u

kver=$1
results=$2
shift 2

quick=0
rounds=4
backing=loop
ko=
chunk=128
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--rounds) rounds=$2; shift ;;
	--backing) backing=$2; shift ;;
	--chunk) chunk=$2; shift ;;
	--ko) ko=$2; shift ;;
	*) echo "guest-overhead.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

BENCH_NAME=bench
. "$(dirname "$0")/lib.sh"
here=$bench_here
repo=$bench_repo

HM_KO=${ko:-$repo/build/$kver/dm-hybridmig.ko}
CHUNK_SECTORS=$chunk
if [ "$quick" = 1 ]; then
	runtime=4
	ramp=1
else
	runtime=10
	ramp=1
fi
rounds_log=$results/rounds.jsonl
work=/tmp/hm-bench

rm -f "$results/overhead.json" "$results/FAILED" "$rounds_log" "$results/queue-limits.txt"
mkdir -p "$work"

bench_setup "$HM_KO" 0

# The backing device, 1 GiB unless the guest's memory cannot hold it next to
# everything else (it lives in RAM: tmpfs for loop, brd's own pages).
avail_mib=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
mib=1024
headroom=768
if [ "$backing" != null_blk ] && [ $((mib + headroom)) -gt "$avail_mib" ]; then
	mib=$(( (avail_mib - headroom) / 64 * 64 ))
	[ "$mib" -ge 256 ] || die "only $avail_mib MiB available in the guest, too little for the backing device"
	log "only $avail_mib MiB available: backing device shrunk to $mib MiB"
fi

case "$backing" in
loop)
	modprobe loop 2>/dev/null
	truncate -s "${mib}M" "$work/backing.img" || die "truncate"
	dev=$(losetup --show -f "$work/backing.img") || die "losetup"
	backing_desc="loop device (buffered) over a ${mib} MiB file in the guest's tmpfs"
	;;
brd)
	modprobe brd rd_nr=1 rd_size=$((mib * 1024)) max_part=0 || die "modprobe brd"
	dev=/dev/ram0
	backing_desc="brd RAM disk, ${mib} MiB"
	;;
null_blk)
	[ $((mib % 1024)) -eq 0 ] || die "null_blk needs a whole number of GiB"
	modprobe null_blk nr_devices=1 gb=$((mib / 1024)) queue_mode=2 irqmode=0 ||
		die "modprobe null_blk"
	dev=/dev/nullb0
	backing_desc="null_blk (blk-mq, irqmode=0, stores no data), ${mib} MiB"
	;;
*)
	die "unknown backing $backing"
	;;
esac
[ -b "$dev" ] || die "no block device $dev"
size=$(blockdev --getsz "$dev") || die "blockdev --getsz $dev"
log "backing: $backing_desc ($dev, $size sectors); guest MemAvailable $avail_mib MiB"

# Fill the backing store once so that no measured run pays for first-touch
# page allocation in tmpfs or brd.
if [ "$backing" != null_blk ]; then
	log "preconditioning: writing all $mib MiB once"
	dd if=/dev/zero of="$dev" bs=1M count="$mib" oflag=direct status=none ||
		die "preconditioning write to $dev failed"
fi

table_for() {
	case "$1" in
	linear) echo "0 $size linear $dev 0" ;;
	hybridmig) echo "0 $size hybridmig source $dev - $CHUNK_SECTORS" ;;
	esac
}

# Workloads: fio options, and the block size in bytes.
WORKLOADS=(randwrite-4k-qd32 seqwrite-1m-qd8)
workload_opts() {
	case "$1" in
	randwrite-4k-qd32) printf '%s\n' rw=randwrite bs=4096 iodepth=32 norandommap=1 randrepeat=0 ;;
	seqwrite-1m-qd8) printf '%s\n' rw=write bs=1048576 iodepth=8 ;;
	esac
}
workload_bs() {
	case "$1" in
	randwrite-4k-qd32) echo 4096 ;;
	seqwrite-1m-qd8) echo 1048576 ;;
	esac
}

# Sectors written through dm device <name> since it was created.
dm_write_sectors() {
	local minor
	minor=$(dmsetup info -c --noheadings -o minor "$1" | tr -d ' ')
	awk '{ print $7 }' "/sys/block/dm-$minor/stat"
}

# The queue limits of the backing and of both dm devices, once: they decide
# how the block layer and dm core split the I/O before the target sees it.
limits=$results/queue-limits.txt
record_limits() {
	local name sys attr minor
	for name in backing linear hybridmig; do
		if [ "$name" = backing ]; then
			sys=/sys/block/$(basename "$dev")/queue
		else
			minor=$(dmsetup info -c --noheadings -o minor "bench-$name" | tr -d ' ')
			sys=/sys/block/dm-$minor/queue
		fi
		for attr in max_sectors_kb max_hw_sectors_kb chunk_sectors optimal_io_size \
			scheduler nr_requests; do
			[ -r "$sys/$attr" ] && echo "$name $attr $(cat "$sys/$attr")"
		done
	done > "$limits"
}

# run_round <workload> <round>: both targets, one fio process.
run_round() {
	local wl=$1 round=$2 order target t0 t1 rc bios sec_lin sec_hm
	local jobfile=$work/$wl-r$round.fio out=$results/fio-$wl-r$round.json

	if [ $((round % 2)) -eq 1 ]; then
		order="linear hybridmig"
	else
		order="hybridmig linear"
	fi
	{
		echo "[global]"
		printf '%s\n' direct=1 ioengine=libaio time_based "runtime=$runtime" \
			"ramp_time=$ramp" numjobs=1
		workload_opts "$wl"
		for target in $order; do
			echo "[$target]"
			echo "filename=/dev/mapper/bench-$target"
			echo stonewall
		done
	} > "$jobfile"
	cp "$jobfile" "$results/"

	for target in $order; do
		dmsetup create "bench-$target" --table "$(table_for "$target")" ||
			die "dmsetup create bench-$target failed"
	done
	[ -s "$limits" ] || record_limits
	t0=$(now)
	timeout --kill-after=10 $((2 * (runtime + ramp) + 180)) \
		fio --output-format=json --output="$out" "$jobfile" > "$work/fio.stderr" 2>&1
	rc=$?
	t1=$(now)
	# write_bios and the sectors written both count the ramp too.
	# write_bios: the 8th INFO field (Documentation/hybridmig.rst).
	bios=$(dmsetup status bench-hybridmig | awk '{ print $11 }')
	case "$bios" in
	''|*[!0-9]*) bios=-1 ;;
	esac
	sec_lin=$(dm_write_sectors bench-linear)
	sec_hm=$(dm_write_sectors bench-hybridmig)
	for target in $order; do
		dmsetup remove "bench-$target" || die "dmsetup remove bench-$target failed"
	done
	if [ "$rc" -ne 0 ]; then
		cat "$work/fio.stderr" "$out" 2>/dev/null | tail -n 30
		die "fio $wl round $round exited with $rc"
	fi
	printf '{"workload": "%s", "round": %d, "order": "%s", "bs": %d, "fio_json": "%s", "wall_s": %s, "hm_write_bios": %d, "dm_write_sectors": {"linear": %d, "hybridmig": %d}}\n' \
		"$wl" "$round" "${order/ /,}" "$(workload_bs "$wl")" "$(basename "$out")" \
		"$(elapsed "$t0" "$t1")" "$bios" "$sec_lin" "$sec_hm" >> "$rounds_log"
	if command -v jq >/dev/null; then
		log "$wl round $round ($(elapsed "$t0" "$t1")s): $(jq -r '[.jobs[] |
			"\(.jobname) \(.write.iops | floor) IOPS \(.write.bw_bytes / 1048576 | floor) MiB/s"] |
			join(", ")' "$out" 2>/dev/null)"
	else
		log "$wl round $round done ($(elapsed "$t0" "$t1")s)"
	fi
}

log "kernel $kver, $rounds rounds, ${runtime}s per run (+${ramp}s ramp)"
for wl in "${WORKLOADS[@]}"; do
	for round in $(seq 1 "$rounds"); do
		run_round "$wl" "$round"
	done
done

bench_kernel_log "$work/kernel-bad.txt"

case "$backing" in
loop) losetup -d "$dev" ;;
brd) rmmod brd ;;
null_blk) rmmod null_blk ;;
esac

log "fio runs done; building the report"
python3 "$here/overhead.py" report "$rounds_log" --fio-dir "$results" \
	--kernel "$kver" --backing "$backing" --backing-desc "$backing_desc" \
	--backing-mib "$mib" --rounds "$rounds" --runtime "$runtime" --ramp "$ramp" \
	--mode "$([ "$quick" = 1 ] && echo quick || echo full)" \
	--table "$(table_for hybridmig | sed "s|$dev|<backing>|")" \
	--cpus "$(nproc)" --mem-mib "$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)" \
	--kernel-log "$work/kernel-bad.txt" --queue-limits "$limits" --guest-seconds "$(elapsed "$t_start" "$(now)")" \
	> "$results/overhead.json.tmp" || die "building the report failed"
mv "$results/overhead.json.tmp" "$results/overhead.json"
log "done"
