# SPDX-License-Identifier: GPL-2.0-only
#
# Helpers for the VM test cases. A case is a bash script that exits 0 on
# success, 77 to skip (after printing "SKIP: <what is missing>"), anything
# else on failure (after printing "FAIL: <why>"). Sourced, not run.
set -u

fail() {
	echo "FAIL: $*"
	exit 1
}

skip() {
	echo "SKIP: $*"
	exit 77
}

note() {
	echo "--- $* (at ${SECONDS} s)"
}

assert_eq() {
	[ "$1" = "$2" ] || fail "${3:-value}: expected '$1', got '$2'"
}

# Commands whose failure ends the test.
must() {
	"$@" || fail "command failed ($?): $*"
}

HM_CLEANUP=()
at_exit() {
	HM_CLEANUP=("$*" "${HM_CLEANUP[@]}")
}
run_cleanup() {
	local c
	for c in "${HM_CLEANUP[@]}"; do
		eval "$c" >/dev/null 2>&1
	done
}
trap run_cleanup EXIT

# mkloop <name> <MiB> [losetup options]: a loop device over a tmpfs file.
mkloop() {
	local name=$1 mib=$2 dev
	shift 2
	must truncate -s "${mib}M" "/tmp/hm-$name.img"
	dev=$(losetup --show -f "$@" "/tmp/hm-$name.img") || fail "losetup $name"
	at_exit "losetup -d $dev; rm -f /tmp/hm-$name.img"
	echo "$dev"
}

sectors() {
	blockdev --getsz "$1"
}

# hm_create <name> <table line>: create a dm device and remove it at exit.
dm_create() {
	local name=$1
	shift
	must dmsetup create "$name" --table "$*"
	at_exit "dmsetup remove --force $name"
}

# Field N (1-based) of the INFO status of a hybridmig device.
hm_field() {
	dmsetup status "$1" | awk -v n="$2" '{ print $(3 + n) }'
}

hm_dirty() {
	hm_field "$1" 5
}

# The dirty chunks of a device, one range per line ("a" or "a-b").
hm_dirty_list() {
	dmsetup message "$1" 0 list_dirty | tr ' ' '\n' | sed '/^$/d'
}

# write_sectors <dev> <sector> <count>: one direct write of random data.
write_sectors() {
	dd if=/dev/urandom of="$1" bs=$(($3 * 512)) count=1 seek=$(($2 * 512)) \
		oflag=direct,seek_bytes conv=notrunc status=none ||
		fail "write of $3 sectors to $1 at $2 failed"
}

md5() {
	md5sum < "$1" | cut -d' ' -f1
}

# /sys/block/<dm-N> of a dm device.
dm_sysfs() {
	echo "/sys/block/dm-$(dmsetup info -c --noheadings -o minor "$1" | tr -d ' ')"
}

# Two "hosts" in one guest: namespaces src and dst joined by a veth pair,
# addressed from the documentation ranges (the guest has no other network).
SRC_IP=192.0.2.1
DST_IP=192.0.2.2
SRC_IP6=2001:db8::1
DST_IP6=2001:db8::2
make_hosts() {
	must ip netns add src
	must ip netns add dst
	at_exit "ip netns del src; ip netns del dst"
	must ip link add veth-s type veth peer name veth-d
	must ip link set veth-s netns src
	must ip link set veth-d netns dst
	must ip -n src addr add $SRC_IP/24 dev veth-s
	must ip -n dst addr add $DST_IP/24 dev veth-d
	must ip -n src addr add $SRC_IP6/64 dev veth-s nodad
	must ip -n dst addr add $DST_IP6/64 dev veth-d nodad
	for ns in src dst; do
		must ip -n $ns link set lo up
	done
	must ip -n src link set veth-s up
	must ip -n dst link set veth-d up
}
in_src() {
	ip netns exec src "$@"
}
in_dst() {
	ip netns exec dst "$@"
}

# new_key <description>: a random 32-byte secret as a logon key; prints it.
new_key() {
	local secret
	secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
	keyctl add logon "$1" "$secret" @u > /dev/null || fail "keyctl add logon $1"
	at_exit "keyctl purge logon $1"
	echo "$secret"
}

# Link fields of the INFO status (after the 8 tracking fields).
hm_link_state() {
	hm_field "$1" 9
}
hm_link_error() {
	hm_field "$1" 12
}
hm_reconnects() {
	hm_field "$1" 11
}

# wait_for <seconds> <command...>: poll until the command succeeds, for
# at most <seconds> times HM_WAIT_SCALE (default 3). The limits in the
# tests are what the emulated machine needs when it is quiet; a loaded CI
# host can take several times as long (a Python peer's start took over
# 10 s there), and a longer limit costs nothing when the command succeeds.
wait_for() {
	local deadline=$(( $(date +%s) + $1 * ${HM_WAIT_SCALE:-3} ))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.2
	done
}

link_is() {
	[ "$(hm_link_state "$1")" = "$2" ]
}

# Event counter of a dm device (dmsetup wait wakes when it moves).
dm_events() {
	dmsetup info -c --noheadings -o events "$1" | tr -d ' '
}

link_error_is() {
	[ "$(hm_link_error "$1")" = "$2" ]
}

# ---- Push phase ----
#
# Fields of the push phase (after the 8 link fields): 17 policy, 18 ready,
# 19 inflight_chunks, 20 sent_chunks, 21 zero_chunks, 22 acked_chunks,
# 23 data_bytes, 24 rate, 25 dirty_rate, 26 deferred_chunks, 27 bandwidth.

# hm_snap <dev>: one status read into HM_F (HM_F[N] is field N), so that
# fields compared with each other come from the same instant.
hm_snap() {
	local line
	line=$(dmsetup status "$1") || fail "dmsetup status $1"
	read -ra HM_F <<< "x $(echo "$line" | cut -d' ' -f4-)"
}

# field_is <dev> <N> <value>, field_gt <dev> <N> <value>: for wait_for.
field_is() {
	[ "$(hm_field "$1" "$2")" = "$3" ]
}
field_gt() {
	[ "$(hm_field "$1" "$2")" -gt "$3" ]
}
ready_is() {
	field_is "$1" 18 "$2"
}

# The push fields of a device, for logs.
hm_push_line() {
	hm_snap "$1"
	echo "$1: phase ${HM_F[2]-?} total ${HM_F[4]-?} dirty ${HM_F[5]-?} hot ${HM_F[6]-?}" \
		"link ${HM_F[9]-?} reconn ${HM_F[11]-?} err ${HM_F[12]-?} policy ${HM_F[17]-?}" \
		"ready ${HM_F[18]-?} inflight ${HM_F[19]-?} sent ${HM_F[20]-?} zero ${HM_F[21]-?}" \
		"acked ${HM_F[22]-?} bytes ${HM_F[23]-?} rate ${HM_F[24]-?} drate ${HM_F[25]-?}" \
		"deferred ${HM_F[26]-?} bw ${HM_F[27]-?}"
}

# A size for truncate: a bare number is MiB, a "B" suffix bytes.
hm_size() {
	case "$1" in
	*[0-9]B) echo "${1%B}" ;;
	*[!0-9]*) echo "$1" ;;
	*) echo "${1}M" ;;
	esac
}

# make_pair <src> <dst> <size> <chunk_sectors> [src opt args...]: loop
# devices over /tmp/hm-<src>.img and /tmp/hm-<dst>.img (<size>: MiB, bytes
# with a "B" suffix, or a truncate size such as 4100K; a file already there keeps its
# content, so a test may fill the source image first), and the source and
# destination targets over them. Sets HM_SRC_IMG, HM_DST_IMG, HM_SRC_DATA,
# HM_DST_DATA. HM_DST_SIZE and HM_DST_CHUNK, when set, give the
# destination another geometry. Run it in the test's own shell (not in
# $(...)), or its cleanups are lost.
make_pair() {
	local src=$1 dst=$2 size=$3 chunk=$4 dsize dchunk opts=""
	shift 4
	dsize=${HM_DST_SIZE:-$size}
	dchunk=${HM_DST_CHUNK:-$chunk}
	size=$(hm_size "$size")
	dsize=$(hm_size "$dsize")
	HM_SRC_IMG=/tmp/hm-$src.img
	HM_DST_IMG=/tmp/hm-$dst.img
	must truncate -s "$size" "$HM_SRC_IMG"
	must truncate -s "$dsize" "$HM_DST_IMG"
	at_exit "rm -f $HM_SRC_IMG $HM_DST_IMG"
	HM_SRC_DATA=$(losetup --show -f "$HM_SRC_IMG") || fail "losetup $HM_SRC_IMG"
	at_exit "losetup -d $HM_SRC_DATA"
	HM_DST_DATA=$(losetup --show -f "$HM_DST_IMG") || fail "losetup $HM_DST_IMG"
	at_exit "losetup -d $HM_DST_DATA"
	[ $# -gt 0 ] && opts=" $# $*"
	dm_create "$src" "0 $(sectors "$HM_SRC_DATA") hybridmig source $HM_SRC_DATA - $chunk$opts"
	dm_create "$dst" "0 $(sectors "$HM_DST_DATA") hybridmig dest $HM_DST_DATA - $dchunk"
}

# link_pair <src> <dst> [port]: a key, listen on the destination (netns
# dst), connect the source (netns src). Does not wait. make_hosts first.
link_pair() {
	local src=$1 dst=$2 port=${3:-7000}
	keyctl search @u logon hybridmig:push > /dev/null 2>&1 || new_key hybridmig:push > /dev/null
	must in_dst dmsetup message "$dst" 0 listen "$DST_IP:$port" hybridmig:push
	must in_src dmsetup message "$src" 0 connect "$DST_IP:$port" hybridmig:push
}

# wait_connected <src> <dst> [seconds]
wait_connected() {
	wait_for "${3:-30}" link_is "$1" connected || fail "source not connected: $(hm_push_line "$1")"
	wait_for 20 link_is "$2" connected || fail "destination not connected: $(hm_push_line "$2")"
}

# make_linked_pair <src> <dst> <size> <chunk_sectors> [src opt args...]:
# make_pair, then link them and wait until both ends are connected. Makes
# the src/dst namespaces unless they are there.
make_linked_pair() {
	ip netns list | grep -qw src || make_hosts
	make_pair "$@"
	link_pair "$1" "$2" "${HM_PORT:-7000}"
	wait_connected "$1" "$2"
}

# synced <src>: nothing dirty, nothing in flight.
synced() {
	hm_snap "$1"
	[ "${HM_F[5]}" = 0 ] && [ "${HM_F[19]}" = 0 ]
}

# wait_synced <src> [seconds]: until dirty and inflight are both 0 (hot
# chunks cool down within ~20 s once their writes stop).
wait_synced() {
	local t0=$SECONDS
	wait_for "${2:-120}" synced "$1" || fail "not synced after ${2:-120} s: $(hm_push_line "$1")"
	echo "synced in $((SECONDS - t0)) s: $(hm_push_line "$1")"
}

# md5 of a file or (read with O_DIRECT, past any page cache) a block device.
data_md5() {
	if [ -b "$1" ]; then
		dd if="$1" bs=1M iflag=direct status=none | md5sum | cut -d' ' -f1
	else
		md5sum < "$1" | cut -d' ' -f1
	fi
}

# compare_data <a> <b> [chunk_sectors]: two files or devices hold the same
# bytes; if not, fail naming the first chunks that differ. Compare the
# backing images, not the destination target (it refuses reads of missing
# chunks).
compare_data() {
	local a=$1 b=$2 chunk=${3:-128} ma mb diff
	ma=$(data_md5 "$a")
	mb=$(data_md5 "$b")
	[ "$ma" = "$mb" ] && { echo "identical: $a $b ($ma)"; return 0; }
	diff=$(python3 - "$a" "$b" $((chunk * 512)) <<'PY'
import sys
a, b, cs = open(sys.argv[1], "rb"), open(sys.argv[2], "rb"), int(sys.argv[3])
bad, n, i = [], 0, 0
while True:
    x, y = a.read(cs), b.read(cs)
    if not x and not y:
        break
    if x != y:
        n += 1
        if len(bad) < 20:
            bad.append(str(i))
    i += 1
print("%d chunks differ, first: %s" % (n, " ".join(bad)))
PY
)
	fail "$a and $b differ ($ma vs $mb): $diff"
}

# fill_random <file> <offset MiB> <MiB>: random data into an image file.
fill_random() {
	dd if=/dev/urandom of="$1" bs=1M seek="$2" count="$3" conv=notrunc status=none ||
		fail "fill $1 at ${2}M"
}

# Allocated bytes of a file (sparse files: holes take nothing).
alloc_bytes() {
	echo $(( $(stat -c %b "$1") * $(stat -c %B "$1") ))
}

# fio_bg <outfile> <fio args...>: start fio in the background; FIO_PID.
fio_bg() {
	local out=$1
	shift
	fio "$@" --output-format=terse > "$out" 2>&1 &
	FIO_PID=$!
	at_exit "kill $FIO_PID"
}

# now_ms: a clock in milliseconds (bash's own clock: no process to start).
now_ms() {
	local t=${EPOCHREALTIME//[.,]/}
	echo $((t / 1000))
}

# hm_snap_timed <dev>: hm_snap, and HM_T the time of the status read in
# microseconds (the middle of the dmsetup call, so that a slow start of
# the command does not skew rates).
hm_snap_timed() {
	local t0 t1
	t0=${EPOCHREALTIME//[.,]/}
	hm_snap "$1"
	t1=${EPOCHREALTIME//[.,]/}
	# shellcheck disable=SC2034
	HM_T=$(( (t0 + t1) / 2 ))
}

# Between two hybridmig kernels no frame is ever refused: a lane lost to a
# bad frame, MAC or sequence, or an unexpected ACK, is a bug.
no_protocol_errors() {
	local bad
	bad=$(dmesg | grep -E "lost: bad_|not in flight|unsolicited" | head -n 3)
	[ -z "$bad" ] || fail "protocol errors between the two kernels: $bad"
}

# ---- Kernel log ----

# dmesg_take: the kernel log lines that appeared since the last dmesg_take
# (the first time: since the test started) into HM_DMESG. Run it in the
# test's own shell, not in $(...). The log is not cleared, so guest-run.sh
# still checks all of it; a line matching BAD_KERNEL_LOG fails the test
# here already, at the step that caused it.
HM_DMESG=
HM_DMESG_SEEN=
dmesg_take() {
	local all line
	all=$(dmesg) || fail "dmesg failed"
	[ "${all:0:${#HM_DMESG_SEEN}}" = "$HM_DMESG_SEEN" ] ||
		fail "kernel log lines were lost (ring buffer wrapped or cleared)"
	HM_DMESG=${all:${#HM_DMESG_SEEN}}
	HM_DMESG=${HM_DMESG#$'\n'}
	HM_DMESG_SEEN=$all
	[[ $HM_DMESG =~ ${BAD_KERNEL_LOG:?set by guest-run.sh} ]] || return 0
	while IFS= read -r line; do
		[[ $line =~ $BAD_KERNEL_LOG ]] && break
	done <<< "$HM_DMESG"
	fail "kernel log: $line"
}

# ---- hybridmigctl ----

# ctl_expect <code> <stderr text> <args...>: run $HM_CTL (in network
# namespace $HM_NS if set); it must exit with <code> and print exactly one
# error line containing <stderr text>. Its output is in /tmp/hm-out.
ctl_expect() {
	local want=$1 msg=$2 rc
	shift 2
	${HM_NS:+ip netns exec $HM_NS} "$HM_CTL" "$@" > /tmp/hm-out 2> /tmp/hm-err
	rc=$?
	assert_eq "$want" "$rc" "exit code of hybridmigctl $*"
	grep -qF -- "$msg" /tmp/hm-err || fail "hybridmigctl $*: stderr '$(cat /tmp/hm-err)' lacks '$msg'"
	assert_eq 1 "$(wc -l < /tmp/hm-err)" "error lines of hybridmigctl $*"
}

# ---- Faults under a device ----

# dm_swap <name> <table>: replace the table of a dm device under I/O
# (the device stays open; I/O in flight completes first).
dm_swap() {
	local name=$1
	shift
	must dmsetup suspend "$name"
	must dmsetup load "$name" --table "$*"
	must dmsetup resume "$name"
}

# fault_dev <name> <backing dev> ok|error|delay <ms>: the device over
# the start of <backing dev> passes I/O through, fails all of it
# (dm-flakey, always down), or delays it (dm-delay).
fault_dev() {
	local name=$1 dev=$2 size
	size=$(sectors "/dev/mapper/$name")
	case "$3" in
	ok) dm_swap "$name" "0 $size linear $dev 0" ;;
	error) dm_swap "$name" "0 $size flakey $dev 0 0 3600" ;;
	delay) dm_swap "$name" "0 $size delay $dev 0 $4" ;;
	*) fail "fault_dev: unknown mode $3" ;;
	esac
}

hm_io_errors() {
	hm_field "$1" 32
}

# handover_all_dirty <src> <dst> <MiB> <KiB/s>: the source's first <MiB>
# written again with random data, then handed over with policy postcopy
# and the prefetch limited to <KiB/s>: all of it is missing on the
# destination, for a long post-copy.
handover_all_dirty() {
	must dmsetup message "$1" 0 set policy postcopy
	must dmsetup message "$1" 0 set bandwidth "$4"
	dd if=/dev/urandom of="/dev/mapper/$1" bs=1M count="$3" oflag=direct status=none ||
		fail "rewriting $1"
	must dmsetup message "$1" 0 handover
	wait_for 10 field_is "$2" 2 postcopy || fail "destination phase: $(dmsetup status "$2")"
}

# cycle_table <dev> [command]: suspend and resume, reload the live table
# and go live with it, suspend --noflush and resume; run [command] (say, a
# status check) while suspended the first time. The table stays as it was.
cycle_table() {
	local dev=$1 table
	shift
	table=$(dmsetup table "$dev")
	must dmsetup suspend "$dev"
	[ $# -eq 0 ] || "$@" || fail "$dev while suspended: '$*' failed: $(dmsetup status "$dev")"
	must dmsetup resume "$dev"
	must dmsetup reload "$dev" --table "$table"
	must dmsetup suspend "$dev"
	must dmsetup resume "$dev"
	must dmsetup suspend --noflush "$dev"
	must dmsetup resume "$dev"
	assert_eq "$table" "$(dmsetup table "$dev")" "$dev table after a reload"
}
