#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Runs inside the benchmark VM: whole migrations (bench/README.md,
# "Migration benchmarks"). Two hosts, network namespaces src and dst, joined
# by a shaped veth link.
#
#  matrix  each policy (hybrid, precopy, postcopy) x each fio workload
#          (bench/workloads/*.fio): one fio process, the "VM", writes to
#          /dev/mapper/vm, a dm-linear device over the source; before, then
#          during the push; "pausing the VM" suspends vm, the source hands
#          over, vm is reloaded onto the destination and resumed, and the
#          same fio goes on there through post-copy and after completion.
#  mirror  the same workloads with QEMU's mirror job (qemu-storage-daemon,
#          background and write-blocking copy modes) to an NBD export on
#          the destination; vm is dm-linear over /dev/nbd0 (nbd-client to
#          the source daemon's export).
#  multi   N = 1, 4, 8 migrations at once over the one link.
#  scale   handover time and kernel memory vs. disk size (sparse); push
#          throughput vs. chunk size; read misses under full prefetch.
#
# usage: guest-migrate.sh <kver> <results_dir> [--quick] [--parts LIST]
#                         [--links "lan wan"] [--workloads LIST]
#                         [--policies LIST] [--baseline] [--ko PATH]
#                         [--cc ALGORITHM]
#
# Writes, into <results_dir>: a JSON file per run without a workload in
# runs/; the raw files of each run with a workload (fio's latency log and
# result, the time stamps, the devices' status) in raw/<run>/, which the
# host analyses (bench/migrate.py collect), as the guest's emulated CPU
# would take seconds per run; the guest's facts in facts.json, written last;
# dmesg.txt and kernel-bad.txt. On failure the reason goes to FAILED.
set -u

kver=$1
results=$2
shift 2
quick=0
parts="matrix mirror multi scale"
links=
workloads="idle light hotspot mixed seqwrite fsync"
policies="hybrid precopy postcopy"
mirror_modes="background write-blocking"
mirror_workloads=
baseline=0
ko=
cc=
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--parts) parts=$2; shift ;;
	--links) links=$2; shift ;;
	--workloads) workloads=$2; shift ;;
	--policies) policies=$2; shift ;;
	--mirror-modes) mirror_modes=$2; shift ;;
	--mirror-workloads) mirror_workloads=$2; shift ;;
	--baseline) baseline=1 ;;
	--ko) ko=$2; shift ;;
	--cc) cc=$2; shift ;;
	*) echo "guest-migrate.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

BENCH_NAME=bench-migrate
. "$(dirname "$0")/lib.sh"
here=$bench_here
KEY=hybridmig:bench
W=/tmp/hm-bench-migrate

# The profile. Rates and sizes suit the emulated machine: with AES-GCM
# frames the push reaches about 13 MiB/s under -icount on an unshaped link
# with nothing else running (the scale part's chunk-size sweep), so the
# "LAN" link runs at 64 Mbit/s (8 MiB/s), what the push sustains with a
# workload beside it, and "WAN" at a tenth of that, as 100 Mbit/s is to
# 1 Gbit/s. (With HMAC-SHA256 frames, until November 2026, the push
# reached 3.4 MiB/s and the LAN link ran at 16 Mbit/s.)
#
# The quick profile fits make bench in 15 minutes on a 2-core TCG host:
# under -icount, busy guest seconds cost 2-3 wall seconds, so its data is
# what shows each effect (a push of some seconds, hot chunks re-dirtied
# during it, a link shared N ways), no more.
if [ "$quick" = 1 ]; then
	: "${links:=lan}"
	disk_mib=32 foot_mib=16 before=2 after=2
	: "${mirror_workloads:=hotspot}"
	multi_mib=8 scale_sizes="1G 16G 256G 1T" chunk_sizes="8 128 2048" miss_mib=192
else
	: "${links:=lan wan}"
	disk_mib=512 foot_mib=128 before=8 after=8
	: "${mirror_workloads:=$workloads}"
	multi_mib=32 scale_sizes="1G 4G 16G 64G 256G 1T" chunk_sizes="8 16 32 64 128 256 512 1024 2048" miss_mib=512
fi
chunk=128	# 64 KiB
link_rate() {	# Mbit/s and round-trip time (ms) of a link profile
	case "$1" in
	lan) echo "64 0.2" ;;
	wan) echo "6.4 20" ;;
	*) die "unknown link profile $1" ;;
	esac
}

HM_KO=${ko:-$bench_repo/build/$kver/dm-hybridmig.ko}
rm -rf "$W" "$results/runs" "$results/raw" "$results/facts.json" "$results/FAILED"
mkdir -p "$W" "$results/runs" "$results/raw"
bench_setup "$HM_KO" 1 loop nbd
bench_hosts
# --cc: the TCP congestion control of both namespaces (the kernel's
# sockets take their namespace's default), as an operator would set it.
if [ -n "$cc" ]; then
	modprobe "tcp_$cc" 2>/dev/null
	for ns in src dst; do
		ip netns exec $ns sysctl -qw net.ipv4.tcp_congestion_control="$cc" ||
			die "congestion control $cc"
	done
	log "TCP congestion control: $cc"
fi
command -v qemu-storage-daemon > /dev/null || log "no qemu-storage-daemon: no mirror runs"
command -v nbd-client > /dev/null || log "no nbd-client: no mirror runs"

# shape <profile|none>: both directions of the veth at the profile's rate,
# each adding half the round-trip time; the queue holds at most 20 ms.
# The queue is netem's: a child qdisc replaces tbf's own (its "latency"
# then limits nothing), so netem's limit (packets, its delay line
# included) is set from the rate. Left at its default of 1000 packets it
# held 750 ms at 16 Mbit/s, and pulls waited behind the prefetch in it.
# queue_packets <Mbit/s> <rtt ms>: full-size packets in 20 ms of queue
# plus the half round trip in netem's delay line; at least 10.
queue_packets() {
	awk -v r="$1" -v t="$2" 'BEGIN { n = int(r * 1e6 / 8 * (0.020 + t / 2000) / 1514) + 2
		print (n < 10 ? 10 : n) }'
}

link_mbit=0 link_rtt=0
shape() {
	local dev ns
	for ns in src dst; do
		dev=veth-${ns:0:1}
		ip netns exec $ns tc qdisc del dev "$dev" root 2>/dev/null
	done
	link_mbit=0 link_rtt=0
	[ "$1" = none ] && return
	read -r link_mbit link_rtt <<< "$(link_rate "$1")"
	for ns in src dst; do
		dev=veth-${ns:0:1}
		ip netns exec $ns tc qdisc add dev "$dev" root handle 1: tbf rate "${link_mbit}mbit" \
			burst 32kb latency 20ms || die "tc tbf on $dev"
		ip netns exec $ns tc qdisc add dev "$dev" parent 1:1 handle 10: netem \
			delay "$(awk -v r="$link_rtt" 'BEGIN { print r / 2 }')ms" \
			limit "$(queue_packets "$link_mbit" "$link_rtt")" || die "tc netem on $dev"
	done
}

# Bytes through the source's end of the link, both directions (TCP/IP
# headers included): the one measure of the wire every peer shares.
wire_bytes() {
	in_src cat /sys/class/net/veth-s/statistics/tx_bytes /sys/class/net/veth-s/statistics/rx_bytes |
		awk '{ s += $1 } END { print s }'
}

# The data: a random footprint at the start of a sparse disk image. Larger
# random data is the footprint again and again: nothing in the module looks
# at content beyond zero chunks, and /dev/urandom would cost the emulated
# CPU seconds per run.
head -c $((foot_mib << 20)) /dev/urandom > "$W/foot.bin"
new_disk() {	# new_disk <image> <size> [random MiB | foot]
	local i
	rm -f "$1"
	truncate -s "$2" "$1" || die "truncate $1"
	case "${3:-}" in
	'') ;;
	foot) dd if="$W/foot.bin" of="$1" conv=notrunc status=none ;;
	*) for ((i = 0; i < $3; i += foot_mib)); do
		cat "$W/foot.bin"
	done | head -c $(($3 << 20)) | dd of="$1" conv=notrunc status=none ;;
	esac
}

# pair <name> <size> <source opt args> [random MiB | foot] [chunk sectors]:
# sparse images for a source and a destination (the source's start filled),
# loop devices over them, and the targets <name>-src and <name>-dst.
pair() {
	local name=$1 size=$2 opts=$3 c=${5:-$chunk} sl dl
	new_disk "$W/$name-src.img" "$size" "${4:-}"
	new_disk "$W/$name-dst.img" "$size"
	sl=$(losetup --show -f "$W/$name-src.img") && dl=$(losetup --show -f "$W/$name-dst.img") ||
		die "losetup $name"
	sectors=$(blockdev --getsz "$sl")
	dmsetup create "$name-src" --table "0 $sectors hybridmig source $sl - $c${opts:+ $opts}" ||
		die "create $name-src"
	dmsetup create "$name-dst" --table "0 $sectors hybridmig dest $dl - $c" || die "create $name-dst"
}
# link_up <name> <port>: listen on the destination, connect the source.
link_up() {
	in_dst dmsetup message "$1-dst" 0 listen "$DST_IP:$2" "$KEY" || die "listen $1"
	in_src dmsetup message "$1-src" 0 connect "$DST_IP:$2" "$KEY" || die "connect $1"
}
# unpair <name>: the two targets, their loop devices and images go.
unpair() {
	local side
	dmsetup remove "$1-src" && dmsetup remove "$1-dst" || die "remove $1"
	for side in src dst; do
		losetup -d "$(losetup -n -O NAME -j "$W/$1-$side.img")"
		rm -f "$W/$1-$side.img"
	done
}

# wait_until <seconds> <command...>: poll until the command succeeds.
wait_until() {
	local deadline
	deadline=$(awk -v t="$(now)" -v d="$1" 'BEGIN { printf "%d", t + d }')
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.2
	done
}
is_ready() {
	snap "$1"
	[ "${F[18]}" = 1 ]
}
is_phase() {
	[ "$(field "$1" 2)" = "$2" ]
}
# dm_ios <dev>: I/Os completed on a dm device so far (reads + writes).
dm_ios() {
	awk '{ print $1 + $5 }' "/sys/block/dm-$(dmsetup info -c --noheadings -o minor "$1" | tr -d ' ')/stat"
}
ios_above() {
	[ "$(dm_ios "$1")" -gt "$2" ]
}

# fio_start <workload> <tag>: the VM's workload on /dev/mapper/vm, in the
# background, latency of every I/O logged; returns once I/O flows (fio
# takes seconds to start under TCG).
fio_start() {
	local wl=$1 tag=$2 ios
	ios=$(dm_ios vm)
	HM_DEV=/dev/mapper/vm HM_WSET=$((foot_mib * 256))k HM_LOG=$W/$tag \
		fio --output-format=json --output="$W/$tag.json" "$here/workloads/$wl.fio" \
		> "$W/$tag.fio.err" 2>&1 &
	fio_pid=$!
	wait_until 120 ios_above vm "$ios" || die "fio $wl did not start: $(cat "$W/$tag.fio.err")"
}
fio_stop() {	# fio exits with 128 when stopped by SIGINT
	local rc=0
	kill -INT "$fio_pid" 2>/dev/null
	wait "$fio_pid" || rc=$?
	[ "$rc" = 0 ] || [ "$rc" = 128 ] || die "fio ended with $rc ($tag): $(tail -n 5 "$W/$tag.fio.err")"
}

# record <tag> <json fields...>: the run's raw files into raw/<tag>/ for
# the host to analyse (bench/migrate.py collect): fio's latency log and
# result, the time stamps T (k=v ...) and the JSON fields given.
declare -A T
record() {
	local tag=$1 k raw=$results/raw/$1
	shift
	mkdir -p "$raw"
	mv "$W/${tag}_lat.1.log" "$raw/lat.log" && mv "$W/$tag.json" "$raw/fio.json" ||
		die "no fio output for run $tag"
	rm -f "$W/${tag}"_*.log
	for k in "${!T[@]}"; do
		printf '%s=%s ' "$k" "${T[$k]}"
	done > "$raw/times"
	echo "{$*}" > "$raw/meta.json"
	log "$tag: $(elapsed "${T[start]}" "${T[end]}") s of workload${T[complete]:+, migration $(elapsed "${T[connect]}" "${T[complete]}") s}"
}
common_meta() {	# link, sizes, workload: JSON fields every run has
	printf '"link": "%s", "link_mbit": %s, "rtt_ms": %s, "disk_bytes": %d, "must_move_bytes": %d, "workload": "%s"' \
		"$1" "$link_mbit" "$link_rtt" $((disk_mib << 20)) $((foot_mib << 20)) "$2"
}

# The longest push before the VM is paused anyway: 3x the ideal time
# (footprint / link rate) + 8 s.
push_cap() {
	awk -v f="$foot_mib" -v r="$link_mbit" 'BEGIN { printf "%d", 3 * f * 8.39 / r + 8 }'
}

# ---- hybridmig: one migration of one policy under one workload ----
# With policy "none": the no-migration baseline on the same stack (the
# source device with no link) for as long as a migration's windows.
hm_run() {
	local link=$1 policy=$2 wl=$3 tag=$1-$2-$3 s0 w0 opts='' sectors
	T=()
	# precopy: ready once at most 16 chunks (1 MiB) are left, as QEMU's
	# mirror waits for (nearly) nothing left; the default is 128.
	[ "$policy" = precopy ] && opts="4 policy precopy ready_chunks 16"
	[ "$policy" = postcopy ] && opts="2 policy postcopy"
	pair hm "${disk_mib}M" "$opts" foot
	dmsetup create vm --table "0 $sectors linear /dev/mapper/hm-src 0" || die "create vm"
	fio_start "$wl" "$tag"
	T[start]=$(now)
	sleep "$before"
	T[connect]=$(now)
	if [ "$policy" = none ]; then
		sleep $((2 * before))
		T[end]=$(now)
		fio_stop
		dmsetup remove vm
		unpair hm
		record "$tag" "$(common_meta "$link" "$wl"), \"peer\": \"hybridmig\", \"policy\": \"baseline\""
		return
	fi
	w0=$(wire_bytes)
	link_up hm 7000
	# Push until ready, or pause anyway after 3x the ideal time + 8 s.
	local forced=false
	wait_until "$(push_cap)" is_ready hm-src || forced=true
	T[ready]=$(now)
	snap hm-src
	local at_ready="${F[*]:1}"
	# Pause the VM (its I/O waits in the suspended vm), hand over, resume
	# it on the destination.
	T[pause]=$(now)
	dmsetup suspend vm || die "suspend vm"
	T[suspended]=$(now)
	dmsetup message hm-src 0 handover || die "handover: $(dmsetup status hm-src)"
	T[handover]=$(now)
	dmsetup load vm --table "0 $sectors linear /dev/mapper/hm-dst 0" && dmsetup resume vm ||
		die "vm onto the destination"
	T[resume]=$(now)
	wait_until 600 is_phase hm-dst complete || die "not complete: $(dmsetup status hm-dst)"
	T[complete]=$(now)
	s0=$(wire_bytes)
	sleep "$after"
	T[end]=$(now)
	fio_stop
	snap hm-src
	local src="${F[*]:1}"
	snap hm-dst
	local dst="${F[*]:1}"
	dmsetup remove vm || die "remove vm"
	unpair hm
	record "$tag" "$(common_meta "$link" "$wl"), \"peer\": \"hybridmig\", \"policy\": \"$policy\"," \
		"\"forced_pause\": $forced, \"wire_bytes\": $((s0 - w0)), \"src_at_ready\": \"$at_ready\"," \
		"\"src\": \"$src\", \"dst\": \"$dst\""
}

# ---- QEMU's mirror job, as libvirt runs it for --copy-storage-all ----
# The destination's qemu-storage-daemon exports its image over NBD (TCP, in
# netns dst); the source's exports the VM's image on a unix socket, which
# the kernel's NBD client serves as /dev/nbd0 for the VM (fio), and runs
# the mirror job to the destination. At switch-over the job is cancelled
# (a ready mirror leaves a consistent copy) and the VM resumes on the
# destination's image (a loop device over it). Mode "none": the baseline,
# no mirror job.
qsd_start() {	# qsd_start <netns> <name> <image> <args...>
	local ns=$1 name=$2 img=$3
	shift 3
	ip netns exec "$ns" qemu-storage-daemon \
		--blockdev "driver=file,node-name=disk,filename=$img" "$@" \
		--daemonize --pidfile "$W/qsd-$name.pid" || die "qemu-storage-daemon ($name)"
}
mirror_run() {
	local link=$1 mode=$2 wl=$3 tag=$1-mirror-$2-$3 w0 s0 sectors dl
	T=()
	new_disk "$W/src.img" "${disk_mib}M" foot
	new_disk "$W/dst.img" "${disk_mib}M"
	qsd_start dst dst "$W/dst.img" \
		--nbd-server "addr.type=inet,addr.host=$DST_IP,addr.port=10809" \
		--export type=nbd,id=exp,node-name=disk,name=disk,writable=on
	qsd_start src src "$W/src.img" \
		--nbd-server "addr.type=unix,addr.path=$W/nbd.sock" \
		--export type=nbd,id=exp,node-name=disk,name=vm,writable=on \
		--chardev "socket,id=qmp,path=$W/qmp.sock,server=on,wait=off" --monitor chardev=qmp
	nbd-client -u "$W/nbd.sock" /dev/nbd0 -N vm -b 4096 > "$W/nbd.log" 2>&1 ||
		die "nbd-client: $(cat "$W/nbd.log")"
	sectors=$(blockdev --getsz /dev/nbd0)
	dl=$(losetup --show -f "$W/dst.img") || die "losetup"
	dmsetup create vm --table "0 $sectors linear /dev/nbd0 0" || die "create vm"
	fio_start "$wl" "$tag"
	T[start]=$(now)
	sleep "$before"
	T[connect]=$(now)
	w0=$(wire_bytes)
	local forced=false
	if [ "$mode" = none ]; then
		sleep $((2 * before))
		T[end]=$(now)
	else
		python3 "$here/qmp.py" "$W/qmp.sock" mirror disk "$DST_IP" 10809 disk "$mode" ||
			die "blockdev-mirror"
		# As for hybridmig: after 3x the ideal time + 8 s, pause the VM
		# anyway; with no more writes the job is soon ready.
		python3 "$here/qmp.py" "$W/qmp.sock" wait-ready "$(push_cap)" > /dev/null || forced=true
		T[ready]=$(now)
		T[pause]=$(now)
		dmsetup suspend vm || die "suspend vm"
		T[suspended]=$(now)
		[ "$forced" = false ] || python3 "$here/qmp.py" "$W/qmp.sock" wait-ready 300 > /dev/null ||
			die "the mirror job is not ready with the VM paused"
		python3 "$here/qmp.py" "$W/qmp.sock" cancel || die "block-job-cancel"
		T[handover]=$(now)
		dmsetup load vm --table "0 $sectors linear $dl 0" && dmsetup resume vm ||
			die "vm onto the destination"
		T[resume]=$(now)
		T[complete]=${T[resume]}
		s0=$(wire_bytes)
		sleep "$after"
		T[end]=$(now)
	fi
	fio_stop
	dmsetup remove vm || die "remove vm"
	nbd-client -d /dev/nbd0 > /dev/null 2>&1
	kill "$(cat "$W/qsd-src.pid")" "$(cat "$W/qsd-dst.pid")"
	losetup -d "$dl"
	local extra=
	[ "$mode" = none ] || extra=", \"forced_pause\": $forced, \"wire_bytes\": $((s0 - w0))"
	record "$tag" "$(common_meta "$link" "$wl"), \"peer\": \"qemu-mirror\", \"policy\": \"${mode/none/baseline}\"$extra"
	sleep 0.5	# the daemons' exit
}

# ---- N migrations at once over the one link ----
multi_run() {
	local link=$1 n=$2 i sectors t0 left w0
	local -a done_at
	for i in $(seq 1 "$n"); do
		pair "m$i" "$((4 * multi_mib))M" "" "$multi_mib"
		in_dst dmsetup message "m$i-dst" 0 listen "$DST_IP:$((7100 + i))" "$KEY" || die "listen"
	done
	w0=$(wire_bytes)
	t0=$(now)
	for i in $(seq 1 "$n"); do
		in_src dmsetup message "m$i-src" 0 connect "$DST_IP:$((7100 + i))" "$KEY" || die "connect"
	done
	left=$n
	while [ "$left" -gt 0 ]; do
		for i in $(seq 1 "$n"); do
			[ -n "${done_at[$i]:-}" ] && continue
			snap "m$i-src"
			if [ "${F[5]}" = 0 ] && [ "${F[19]}" = 0 ] && [ "${F[9]}" = connected ]; then
				done_at[$i]=$(now)
				left=$((left - 1))
			fi
		done
		awk -v a="$t0" -v b="$(now)" 'BEGIN { exit !(b - a < 900) }' ||
			die "multi $n: not synced after 900 s"
		sleep 0.3
	done
	local wire per=
	wire=$(( $(wire_bytes) - w0 ))
	for i in $(seq 1 "$n"); do
		snap "m$i-src"
		per+="{\"seconds\": $(elapsed "$t0" "${done_at[$i]}"), \"data_bytes\": ${F[23]}, \"tx_bytes\": ${F[13]}},"
		dmsetup message "m$i-src" 0 handover || die "handover m$i"
	done
	for i in $(seq 1 "$n"); do
		wait_until 60 is_phase "m$i-dst" complete || die "m$i not complete"
		unpair "m$i"
	done
	printf '{"kind": "multi", "link": "%s", "link_mbit": %s, "rtt_ms": %s, "n": %d, "footprint_bytes": %d, "wire_bytes": %d, "migrations": [%s]}\n' \
		"$link" "$link_mbit" "$link_rtt" "$n" $((multi_mib << 20)) "$wire" "${per%,}" \
		> "$results/runs/$link-multi-$n.json"
	log "multi $n: $(elapsed "$t0" "$(now)") s"
}

# ---- Scale ----
vmalloc_bytes() {
	awk '{ s += $2 } END { print s }' /proc/vmallocinfo
}
slab_kib() {
	awk '/^Slab:/ { print $2 }' /proc/meminfo
}
# scale_handover <size> <all|few>: handover of a sparse disk of <size>, with
# nothing pushed (policy postcopy): "all": every chunk missing (no shared
# base image: the largest map); "few": a shared base image (start_clean)
# and 16 chunks written since, spread over the disk. Also the kernel memory
# of both devices.
scale_handover() {
	local size=$1 kind=$2 sectors v0 s0 v1 s1 t0 t1 total opts i
	opts="4 policy postcopy bandwidth 1"
	[ "$kind" = few ] && opts="5 start_clean policy postcopy bandwidth 1"
	v0=$(vmalloc_bytes) s0=$(slab_kib)
	pair s "$size" "$opts"
	v1=$(vmalloc_bytes) s1=$(slab_kib)
	if [ "$kind" = few ]; then
		for i in $(seq 0 15); do
			dd if="$W/foot.bin" of=/dev/mapper/s-src bs=64k count=1 oflag=direct status=none \
				seek=$((sectors / 128 / 16 * i)) || die "write to s-src"
		done
	fi
	link_up s 7300
	wait_until 60 is_ready s-src || die "s-src $size not ready"
	total=$(field s-src 4)
	t0=$(now)
	dmsetup message s-src 0 handover || die "handover $size"
	t1=$(now)
	snap s-src
	local src_us=${F[28]}
	snap s-dst
	printf '{"kind": "scale-handover", "disk_bytes": %d, "chunks": %d, "missing": %d, "src_handover_us": %d, "dst_handover_us": %d, "message_s": %s, "vmalloc_bytes": %d, "slab_bytes": %d}\n' \
		$((sectors * 512)) "$total" "${F[5]}" "$src_us" "${F[28]}" "$(elapsed "$t0" "$t1")" \
		$((v1 - v0)) $(((s1 - s0) * 1024)) > "$results/runs/scale-handover-$kind-$size.json"
	log "scale $size, $kind missing: handover src $src_us us, dst ${F[28]} us"
	unpair s
}
# Push of the footprint, all dirty, at chunk size <sectors>, unshaped link.
scale_chunk() {
	local c=$1 sectors t0 t1
	pair c "$((2 * foot_mib))M" "" foot "$c"
	t0=$(now)
	link_up c 7400
	wait_until 300 synced_src c-src || die "chunk $c: not synced"
	t1=$(now)
	printf '{"kind": "scale-chunk", "chunk_bytes": %d, "seconds": %s, "data_bytes": %d, "tx_bytes": %d, "sent_chunks": %d}\n' \
		$((c * 512)) "$(elapsed "$t0" "$t1")" "${F[23]}" "${F[13]}" "${F[20]}" \
		> "$results/runs/scale-chunk-$c.json"
	log "chunk $c: $(elapsed "$t0" "$t1") s"
	unpair c
}
synced_src() {
	snap "$1"
	[ "${F[5]}" = 0 ] && [ "${F[19]}" = 0 ] && [ "${F[9]}" = connected ]
}
# miss_probe <quarter>: 4 KiB random reads on r-dst, one at a time, over
# one quarter of the disk (1..3: chunks still missing, mostly, since the
# prefetch goes in chunk order); their figures as JSON.
miss_probe() {
	fio --name=misses --filename=/dev/mapper/r-dst --rw=randread --bs=4k --direct=1 \
		--ioengine=psync --time_based --runtime=$((before + after)) \
		--offset=$(($1 * miss_mib / 4))M --size=$((miss_mib / 4))M \
		--output-format=json --output="$W/misses.json" > /dev/null || die "fio misses ($1)"
	python3 "$here/migrate.py" fio-read "$W/misses.json"
}
# Read misses on the destination while the prefetch fills the link: a disk
# of random data, handed over with everything missing (policy postcopy),
# then 4 KiB random reads: with the prefetch held back (1 KiB/s), paced at
# 3/4 of the link, then at full speed.
scale_misses() {
	local link=$1 sectors idle paced full
	pair r "${miss_mib}M" "2 policy postcopy" "$miss_mib"
	link_up r 7500
	wait_until 60 is_ready r-src || die "r-src not ready"
	dmsetup message r-src 0 set bandwidth 1 || die "set bandwidth"
	dmsetup message r-src 0 handover || die "handover"
	idle=$(miss_probe 1)
	dmsetup message r-src 0 set bandwidth \
		"$(awk -v r="$link_mbit" 'BEGIN { printf "%d", r * 1e6 / 8 / 1024 * 0.75 }')" || die "set bandwidth"
	paced=$(miss_probe 2)
	dmsetup message r-src 0 set bandwidth 0 || die "set bandwidth"
	full=$(miss_probe 3)
	snap r-dst
	printf '{"kind": "scale-misses", "link": "%s", "link_mbit": %s, "rtt_ms": %s, "chunk_bytes": %d, "disk_bytes": %d, "pulls": %d, "pull_avg_us": %d, "missing_after": %d, "fio_prefetch_idle": %s, "fio_prefetch_paced": %s, "fio": %s}\n' \
		"$link" "$link_mbit" "$link_rtt" $((chunk * 512)) $((miss_mib << 20)) "${F[29]}" "${F[30]}" "${F[5]}" \
		"$idle" "$paced" "$full" > "$results/runs/$link-misses.json"
	log "misses: ${F[29]} pulls, ${F[30]} us on average"
	unpair r
}

# ---- The runs ----
# Each part runs in a subshell: one that fails (die) is reported, and the
# parts after it and the results so far are kept.
failed=
part() {	# part <name> <command...>
	( "${@:2}" ) && return
	failed+="$1 "
	log "part $1 failed: $(cat "$results/FAILED" 2>/dev/null)"
	rm -f "$results/FAILED"
	kill "$(cat "$W/qsd-src.pid" 2>/dev/null)" "$(cat "$W/qsd-dst.pid" 2>/dev/null)" 2>/dev/null
	nbd-client -d /dev/nbd0 > /dev/null 2>&1
	dmsetup remove_all --force > /dev/null 2>&1
	losetup -D
	rm -f "$W"/*.img
}
# each <runner> <workloads> <variants>: per workload, the baseline (with
# --baseline), then each variant (policy or copy mode).
each() {
	local runner=$1 wl v
	for wl in $2; do
		[ "$baseline" = 1 ] && $runner "$link" none "$wl"
		for v in $3; do
			$runner "$link" "$v" "$wl"
		done
	done
}
matrix() {
	each hm_run "$workloads" "$policies"
}
mirror() {
	command -v qemu-storage-daemon > /dev/null && command -v nbd-client > /dev/null || return 0
	each mirror_run "$mirror_workloads" "$mirror_modes"
}
multi() {
	local n
	for n in 1 4 8; do
		multi_run "$link" "$n"
	done
}
scale() {
	local s c
	shape none
	for s in $scale_sizes; do
		scale_handover "$s" all
		scale_handover "$s" few
	done
	for c in $chunk_sizes; do
		scale_chunk "$c"
	done
}
log "kernel $kver, $(nproc) vCPUs, MemAvailable $(mem_mib MemAvailable) MiB; parts: $parts; links: $links"
for link in $links; do
	shape "$link"
	for x in matrix mirror multi; do
		[[ " $parts " == *" $x "* ]] && part "$link-$x" $x
	done
	[[ " $parts " == *" scale "* ]] && part "$link-misses" scale_misses "$link"
done
[[ " $parts " == *" scale "* ]] && part scale scale

bench_kernel_log "$results/kernel-bad.txt"
printf '{"kernel": "%s", "mode": "%s", "cpus": %d, "mem_mib": %d, "guest_seconds": %s, "failed": "%s", "profile": "%s"}\n' \
	"$kver" "$([ "$quick" = 1 ] && echo quick || echo full)" "$(nproc)" "$(mem_mib MemTotal)" \
	"$(elapsed "$t_start" "$(now)")" "$failed" \
	"disk_mib=$disk_mib foot_mib=$foot_mib before_s=$before after_s=$after chunk_sectors=$chunk multi_mib=$multi_mib miss_mib=$miss_mib" \
	> "$results/facts.json.tmp" && mv "$results/facts.json.tmp" "$results/facts.json"
log "done"
