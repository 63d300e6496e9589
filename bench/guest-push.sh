#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Runs inside the benchmark VM (chrooted into the build machine's root, see
# tests/vm/init): the push-phase benchmarks. See bench/README.md.
#
#  1. throughput: a source over a loop device holding random data, all
#     dirty, pushes everything to a destination in another network
#     namespace (veth). Time from `connect` until nothing is dirty or in
#     flight, against raw TCP (iperf3, one stream) on the same link, and
#     against TLS 1.3 with AES-256-GCM (openssl), which seals the stream as
#     the push does. Paired rounds: raw TCP and push alternate which goes
#     first.
#  2. guest slowdown: fio on the source device with no link (baseline)
#     against fio on the same device while a push of a large all-dirty disk
#     runs for the whole fio window. Paired rounds, alternating order.
#
# usage: guest-push.sh <kver> <results_dir> [--quick] [--rounds N]
#                      [--size MiB] [--chunks "128 2048"] [--shape RATE]
#                      [--alias-mib MiB] [--profile] [--sha256-ssse3]
#                      [--parts 12|1|2] [--ko PATH]
#
# --shape RATE: shape the source's side of the veth with tbf (e.g. 1gbit).
# --profile: one more (unmeasured) push with perf record -a; the top
#            symbols go into the JSON.
# --sha256-ssse3: load sha256_ssse3 before the module (the handshake's
#            hmac(sha256) then uses the SIMD implementation, if the CPU has it).
#            aesni_intel is always loaded if the CPU has AES-NI (bench_setup).
#            The default since the module's softdep asks modprobe for it;
#            --generic-sha256 measures without it.
#
# Writes <results_dir>/push.json on success; on failure writes the reason to
# <results_dir>/FAILED and exits non-zero.
set -u

kver=$1
results=$2
shift 2

quick=0
rounds=
size=256
chunks=
shape=
alias_mib=4096
profile=0
ssse3=1
parts=12
ko=
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--rounds) rounds=$2; shift ;;
	--size) size=$2; shift ;;
	--chunks) chunks=$2; shift ;;
	--shape) shape=$2; shift ;;
	--alias-mib) alias_mib=$2; shift ;;
	--profile) profile=1 ;;
	--sha256-ssse3) ssse3=1 ;;
	--generic-sha256) ssse3=0 ;;
	--parts) parts=$2; shift ;;
	--ko) ko=$2; shift ;;
	*) echo "guest-push.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

BENCH_NAME=bench-push
. "$(dirname "$0")/lib.sh"
here=$bench_here
repo=$bench_repo

HM_KO=${ko:-$repo/build/$kver/dm-hybridmig.ko}
if [ "$quick" = 1 ]; then
	tcp_secs=6
	fio_secs=5
	: "${rounds:=2}"
	: "${chunks:=128}"
else
	tcp_secs=10
	fio_secs=10
	: "${rounds:=4}"
	: "${chunks:=128 2048}"
fi
fio_ramp=1
work=/tmp/hm-bench-push
log_tp=$results/throughput.jsonl
log_sd=$results/slowdown.jsonl
KEY=hybridmig:bench
PORT=7100

# The guest's CPU time counters (jiffies): "busy total".
cpu_ticks() {
	awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}

# CPU time of every task: "pid comm ticks start" (utime + stime, and its
# start time, in ticks since boot), for who-burns-what. comm may hold
# spaces and parentheses: it runs to the last ") ".
task_ticks() {
	local f
	for f in /proc/[0-9]*/stat; do
		cat "$f" 2>/dev/null
	done | awk 'match($0, /^[0-9]+ \(.*\) /) {
		p = index($0, "(")
		comm = substr($0, p + 1, RLENGTH - p - 2)
		gsub(/ /, "_", comm)
		split(substr($0, RLENGTH + 1), f, " ")
		print $1, comm, f[12] + f[13], f[20] }'
	# Interrupt time is not any task's (IRQ time accounting).
	awk '/^cpu / { print -1, "[irq]", $7, 0; print -2, "[softirq]", $8, 0 }' /proc/stat
}

# The clock of task start times (ticks since boot).
uptime_ticks() {
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%d\n", $1 * hz }' /proc/uptime
}

rm -rf "$work" "$results/push.json" "$results/FAILED" "$log_tp" "$log_sd"
mkdir -p "$work"

bench_setup "$HM_KO" "$ssse3" loop
bench_hosts
link_desc="veth pair between network namespaces src and dst, unshaped"
if [ -n "$shape" ]; then
	# The push's data and raw TCP's both flow src -> dst: shape that way.
	in_src tc qdisc add dev veth-s root tbf rate "$shape" burst 256kb latency 50ms ||
		die "tc tbf rate $shape"
	link_desc="veth pair between network namespaces src and dst, src egress shaped by tbf rate $shape burst 256kb latency 50ms"
fi
tcp_tool=iperf3
command -v iperf3 >/dev/null || tcp_tool=python
tls_tool=openssl
command -v openssl >/dev/null || { tls_tool=; log "no openssl: no TLS baseline"; }

# ---- Data ----
# The source image holds random data (no chunk is all zeroes, so every
# chunk crosses as a DATA frame): one random MiB repeated. Nothing on the
# path compresses or deduplicates, so repetition costs nothing in realism.
avail_mib=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
[ $((2 * size + 768)) -le "$avail_mib" ] ||
	die "only $avail_mib MiB available in the guest, too little for two ${size} MiB images"
log "kernel $kver, $(nproc) vCPUs, MemAvailable $avail_mib MiB; filling a ${size} MiB source image"
python3 - "$work/src.img" "$size" <<'PY' || die "cannot write the source image"
import os, sys
block = os.urandom(1 << 20)
with open(sys.argv[1], "wb") as f:
    for _ in range(int(sys.argv[2])):
        f.write(block)
PY
src_loop=$(losetup --show -f "$work/src.img") || die "losetup src.img"
if [ -n "$tls_tool" ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=hm-bench \
		-days 1 -keyout "$work/tls.key" -out "$work/tls.crt" 2> /dev/null || die "openssl req"
fi
sectors=$(blockdev --getsz "$src_loop")

# ---- 1. Throughput ----

# raw_tcp <round> <position>: one stream src -> dst for tcp_secs.
raw_tcp() {
	local round=$1 pos=$2 out=$results/tcp-r$1.json c0 c1 t0 t1
	c0=$(cpu_ticks)
	t0=$(now)
	if [ "$tcp_tool" = iperf3 ]; then
		in_dst iperf3 -s -1 -D -p 5201 -I "$work/iperf3.pid" || die "iperf3 -s"
		sleep 0.5
		in_src timeout $((tcp_secs + 60)) iperf3 -c $DST_IP -p 5201 -t "$tcp_secs" -J \
			> "$out" 2> "$work/iperf3.err" ||
			die "iperf3 -c: $(head -c 300 "$work/iperf3.err") $(head -c 300 "$out")"
	else
		in_dst python3 "$here/push.py" tcp-recv $DST_IP 5201 > "$work/tcp-recv.json" &
		sleep 1
		in_src timeout $((tcp_secs + 60)) python3 "$here/push.py" tcp-send $DST_IP 5201 "$tcp_secs" \
			> "$out" || die "python TCP sender failed"
		wait
	fi
	t1=$(now)
	c1=$(cpu_ticks)
	printf '{"kind": "tcp", "round": %d, "position": %d, "tool": "%s", "file": "%s", "cpu": [%s, %s]}\n' \
		"$round" "$pos" "$tcp_tool" "$(basename "$out")" "${c0// /, }" "${c1// /, }" >> "$log_tp"
	log "raw TCP round $round: $(python3 "$here/push.py" tcp-mib "$out") MiB/s"
}

# tls_tcp <round>: the same stream sealed as the push seals it: TLS 1.3
# with AES-256-GCM (openssl s_server/s_client), the MiB of one push, timed
# from the client's start until the server has read everything. On an
# emulated CPU the cipher costs more than the copy; this is the ceiling of
# any transport that seals its data with AES-GCM on this machine.
tls_tcp() {
	local round=$1 t0 t1 srv
	[ -n "$tls_tool" ] || return 0
	# No session tickets: the client never reads, and unread data at its
	# close would reset the connection and drop what it had not sent yet.
	# The server's stdin is a FIFO held open (no EOF): a background job's
	# /dev/null made it drop the connection at once.
	rm -f "$work/tls-in"
	mkfifo "$work/tls-in"
	in_dst openssl s_server -accept "$DST_IP:5302" -naccept 1 -quiet -tls1_3 \
		-ciphersuites TLS_AES_256_GCM_SHA384 -num_tickets 0 \
		-cert "$work/tls.crt" -key "$work/tls.key" 0<> "$work/tls-in" \
		2> "$work/tls-server.err" | wc -c > "$work/tls-bytes" &
	srv=$!
	sleep 1
	t0=$(now)
	head -c "${size}M" /dev/zero |
		in_src timeout 600 openssl s_client -connect "$DST_IP:5302" -quiet -no_ign_eof \
			-tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384 > /dev/null 2> "$work/tls-client.err" ||
		die "openssl s_client: $(head -c 300 "$work/tls-client.err")"
	wait "$srv" || die "openssl s_server: $(head -c 300 "$work/tls-server.err")"
	t1=$(now)
	[ "$(cat "$work/tls-bytes")" = $((size << 20)) ] ||
		die "TLS: the server read $(cat "$work/tls-bytes") bytes of $((size << 20))"
	printf '{"kind": "tls", "round": %d, "bytes": %d, "seconds": %s}\n' \
		"$round" $((size << 20)) "$(elapsed "$t0" "$t1")" >> "$log_tp"
	log "TLS (AES-256-GCM) round $round: ${size} MiB in $(elapsed "$t0" "$t1")s"
}

# wait_synced <dev> <timeout s>: until dirty and inflight are both 0.
# Sleeps in `dmsetup wait` (the source raises an event when ready goes
# 0 -> 1, and on link changes) instead of polling, so that the waiting
# costs the push no CPU. A 1 s poll backs the events up.
wait_synced() {
	local dev=$1 deadline=$(( $(date +%s) + $2 )) ev
	while :; do
		ev=$(events "$dev")
		snap "$dev"
		[ "${F[5]}" = 0 ] && [ "${F[19]}" = 0 ] && return 0
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		timeout 1 dmsetup wait "$dev" "$ev" > /dev/null 2>&1
	done
}

# make_dst <name> <sectors> <chunk> [data device]: a fresh sparse destination.
make_dst_img() {
	rm -f "$work/dst.img"
	truncate -s "${size}M" "$work/dst.img" || die "truncate dst.img"
	dst_loop=$(losetup --show -f "$work/dst.img") || die "losetup dst.img"
}

# push_round <chunk> <round> <position> [perf]: push the whole source.
push_round() {
	local chunk=$1 round=$2 pos=$3 prof=${4:-0} c0 c1 t0 t1 end_ticks pp=
	make_dst_img
	dmsetup create bench-src --table "0 $sectors hybridmig source $src_loop - $chunk" ||
		die "dmsetup create bench-src"
	dmsetup create bench-dst --table "0 $sectors hybridmig dest $dst_loop - $chunk" ||
		die "dmsetup create bench-dst"
	snap bench-src
	[ "${F[5]}" = "${F[4]}" ] || die "a new source is not all dirty: $(dmsetup status bench-src)"
	in_dst dmsetup message bench-dst 0 listen "$DST_IP:$PORT" "$KEY" || die "listen"
	if [ "$prof" = 1 ]; then
		perf record -a -g -o "$work/perf.data" > "$work/perf.out" 2>&1 &
		pp=$!
		# perf takes seconds to start under TCG: wait for its file.
		for _ in $(seq 1 120); do
			[ -s "$work/perf.data" ] && break
			sleep 0.5
		done
		sleep 1
	fi
	task_ticks > "$work/tasks0"
	c0=$(cpu_ticks)
	t0=$(now)
	in_src dmsetup message bench-src 0 connect "$DST_IP:$PORT" "$KEY" || die "connect"
	wait_synced bench-src 900 || die "push (chunk $chunk) not done after 900 s: $(dmsetup status bench-src)"
	t1=$(now)
	c1=$(cpu_ticks)
	end_ticks=$(uptime_ticks)
	task_ticks > "$work/tasks1"
	snap bench-src
	local src_fields="${F[*]:1}"
	snap bench-dst
	local dst_fields="${F[*]:1}"
	if [ -n "$pp" ]; then
		kill -INT "$pp"
		wait "$pp"
		perf report -i "$work/perf.data" --no-children --sort sym --stdio -g none 2>/dev/null |
			grep '%' | head -n 25 > "$results/perf-symbols.txt"
		perf report -i "$work/perf.data" --no-children --sort comm --stdio -g none 2>/dev/null |
			grep '%' | head -n 12 > "$results/perf-comm.txt"
		log "profiled push (chunk $chunk) in $(elapsed "$t0" "$t1")s; top symbols:"
		head -n 8 "$results/perf-symbols.txt"
	fi
	dmsetup remove bench-src || die "dmsetup remove bench-src"
	dmsetup remove bench-dst || die "dmsetup remove bench-dst"
	# The first push of each chunk size is checked: the destination got
	# the source's bytes.
	local same=null
	if [ "$round" = 1 ] && [ "$prof" = 0 ]; then
		if [ "$(md5sum < "$work/src.img")" = "$(md5sum < "$work/dst.img")" ]; then
			same=true
		else
			same=false
		fi
	fi
	losetup -d "$dst_loop"
	rm -f "$work/dst.img"
	[ "$same" = false ] && die "after the push (chunk $chunk) the destination differs from the source"
	[ "$prof" = 1 ] && return
	# Ticks each task used during the push, kworkers and the like merged;
	# not the tasks started after it (this sampler's own).
	local tasks
	tasks=$(awk -v end="$end_ticks" 'NR == FNR { t[$1] = $3; next }
		$4 <= end { n = $2; sub(/[\/:-][0-9].*$/, "", n); d[n] += $3 - t[$1] }
		END { for (n in d) if (d[n] > 0) printf "\"%s\": %d, ", n, d[n] }' \
		"$work/tasks0" "$work/tasks1")
	printf '{"kind": "push", "chunk_sectors": %d, "round": %d, "position": %d, "seconds": %s, "src": "%s", "dst": "%s", "cpu": [%s, %s], "tasks": {%s}, "identical": %s}\n' \
		"$chunk" "$round" "$pos" "$(elapsed "$t0" "$t1")" "$src_fields" "$dst_fields" \
		"${c0// /, }" "${c1// /, }" "${tasks%, }" "$same" >> "$log_tp"
	log "push chunk $chunk round $round: ${size} MiB in $(elapsed "$t0" "$t1")s"
}

[[ $parts == *1* ]] && log "part 1: throughput, $rounds rounds, chunk sizes: $chunks; raw TCP with $tcp_tool for ${tcp_secs}s"
for round in $(seq 1 "$rounds"); do
	[[ $parts == *1* ]] || break
	if [ $((round % 2)) -eq 1 ]; then
		raw_tcp "$round" 1
		tls_tcp "$round"
		pos=2
		for c in $chunks; do
			push_round "$c" "$round" "$pos"
			pos=$((pos + 1))
		done
	else
		pos=1
		for c in $chunks; do
			push_round "$c" "$round" "$pos"
			pos=$((pos + 1))
		done
		tls_tcp "$round"
		raw_tcp "$round" "$pos"
	fi
done
if [ "$profile" = 1 ] && [[ $parts == *1* ]]; then
	push_round "${chunks%% *}" 0 0 1
fi

# ---- 2. Guest slowdown during a push ----
#
# The push must outlast the fio window, so the disk must be larger than the
# guest's memory can hold: the source's data device is an alias device,
# dm-linear mapping the random image again and again (alias_mib in all);
# the destination's likewise over one sparse image. Every chunk still
# crosses as a DATA frame. The same stack serves the baseline (no link).
nalias=$(( (alias_mib + size - 1) / size ))
alias_sectors=$((nalias * sectors))
if [[ $parts == *2* ]]; then
alias_table() {
	local dev=$1 i
	for i in $(seq 0 $((nalias - 1))); do
		echo "$((i * sectors)) $sectors linear $dev 0"
	done
}
dmsetup create bench-alias-src --table "$(alias_table "$src_loop")" || die "alias source"
make_dst_img
dmsetup create bench-alias-dst --table "$(alias_table "$dst_loop")" || die "alias destination"

WORKLOADS=(randwrite-4k-qd32 seqwrite-1m-qd8)
jobfile=$work/slowdown.fio
{
	echo "[global]"
	printf '%s\n' direct=1 ioengine=libaio time_based "runtime=$fio_secs" \
		"ramp_time=$fio_ramp" filename=/dev/mapper/bench-src
	echo "[randwrite-4k-qd32]"
	printf '%s\n' rw=randwrite bs=4096 iodepth=32 norandommap=1 randrepeat=0 stonewall
	echo "[seqwrite-1m-qd8]"
	printf '%s\n' rw=write bs=1048576 iodepth=8 stonewall
} > "$jobfile"
cp "$jobfile" "$results/"

# slowdown_arm <round> <position> <idle|push>
slowdown_arm() {
	local round=$1 pos=$2 arm=$3 out=$results/fio-$3-r$1.json rc t0 t1 before after
	dmsetup create bench-src --table "0 $alias_sectors hybridmig source /dev/mapper/bench-alias-src - 128" ||
		die "dmsetup create bench-src (alias)"
	before=null
	if [ "$arm" = push ]; then
		dmsetup create bench-dst --table "0 $alias_sectors hybridmig dest /dev/mapper/bench-alias-dst - 128" ||
			die "dmsetup create bench-dst (alias)"
		in_dst dmsetup message bench-dst 0 listen "$DST_IP:$PORT" "$KEY" || die "listen"
		in_src dmsetup message bench-src 0 connect "$DST_IP:$PORT" "$KEY" || die "connect"
		# Into the steady state: connected and data acknowledged.
		for _ in $(seq 1 300); do
			snap bench-src
			[ "${F[9]}" = connected ] && [ "${F[22]}" -gt 64 ] && break
			sleep 0.2
		done
		[ "${F[22]}" -gt 64 ] || die "the push did not start: $(dmsetup status bench-src)"
		sleep 1
		snap bench-src
		before="\"${F[*]:1}\""
	fi
	t0=$(now)
	timeout --kill-after=10 $((2 * (fio_secs + fio_ramp) + 180)) \
		fio --output-format=json --output="$out" "$jobfile" > "$work/fio.stderr" 2>&1
	rc=$?
	t1=$(now)
	snap bench-src
	after="\"${F[*]:1}\""
	if [ "$arm" = push ]; then
		dmsetup remove bench-src || die "dmsetup remove bench-src"
		dmsetup remove bench-dst || die "dmsetup remove bench-dst"
	else
		dmsetup remove bench-src || die "dmsetup remove bench-src"
	fi
	if [ "$rc" -ne 0 ]; then
		cat "$work/fio.stderr" "$out" 2>/dev/null | tail -n 30
		die "fio ($arm, round $round) exited with $rc"
	fi
	printf '{"kind": "fio", "arm": "%s", "round": %d, "position": %d, "file": "%s", "wall_s": %s, "before": %s, "after": %s}\n' \
		"$arm" "$round" "$pos" "$(basename "$out")" "$(elapsed "$t0" "$t1")" "$before" "$after" >> "$log_sd"
	log "fio $arm round $round ($(elapsed "$t0" "$t1")s): $(python3 "$here/push.py" fio-line "$out")"
}

log "part 2: guest slowdown, $rounds rounds, fio ${fio_secs}s (+${fio_ramp}s ramp) per job, alias disk $((alias_sectors / 2048)) MiB"
for round in $(seq 1 "$rounds"); do
	[[ $parts == *2* ]] || break
	if [ $((round % 2)) -eq 1 ]; then
		slowdown_arm "$round" 1 idle
		slowdown_arm "$round" 2 push
	else
		slowdown_arm "$round" 1 push
		slowdown_arm "$round" 2 idle
	fi
done
dmsetup remove bench-alias-src
dmsetup remove bench-alias-dst
losetup -d "$dst_loop"
fi	# part 2
losetup -d "$src_loop"

# The frame cipher the link used (its transforms exist once a link has been
# up: the crypto API takes the gcm(aes) of highest priority), and whether the
# CPU offers what the faster ones need.
crypto_driver=$(awk '/^name/ { n = $3 } /^driver/ { d = $3 } /^priority/ && n == "gcm(aes)" && $3 > p { p = $3; best = d } END { print best }' /proc/crypto)
crypto_driver="${crypto_driver:-unknown}; hmac(sha256) (handshake): $(awk '/^name/ { n = $3 } /^driver/ && n == "hmac(sha256)" { print $3; exit }' /proc/crypto); CPU: $(grep -m1 -ow -E 'aes|pclmulqdq|vaes|avx2|sha_ni' /proc/cpuinfo | sort -u | tr '\n' ' ')"

bench_kernel_log "$work/kernel-bad.txt"

log "done measuring; building the report"
python3 "$here/push.py" report --dir "$results" --kernel "$kver" \
	--mode "$([ "$quick" = 1 ] && echo quick || echo full)" --rounds "$rounds" \
	--size-mib "$size" --alias-mib $((alias_sectors / 2048)) --tcp-secs "$tcp_secs" \
	--fio-secs "$fio_secs" --fio-ramp "$fio_ramp" --link "$link_desc" --shape "$shape" \
	--tcp-tool "$tcp_tool" --crypto "$crypto_driver" \
	--cpus "$(nproc)" --mem-mib "$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)" \
	--hz "$(getconf CLK_TCK)" --kernel-log "$work/kernel-bad.txt" \
	--guest-seconds "$(elapsed "$t_start" "$(now)")" \
	> "$results/push.json.tmp" || die "building the report failed"
mv "$results/push.json.tmp" "$results/push.json"
log "done"
