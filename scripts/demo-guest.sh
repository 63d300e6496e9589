#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The guest side of make demo (runs inside the test VM).
# usage: demo-guest.sh <kver> <results_dir>
set -euo pipefail

kver=$1
out=$2
repo=$(cd "$(dirname "$0")/.." && pwd)
ctl=$repo/userspace/hybridmigctl
export DM_DISABLE_UDEV=1 PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp
cd /tmp
exec > >(tee "$out/demo.log") 2>&1

modprobe dm-mod
modprobe loop || true
modprobe sha256_ssse3 2> /dev/null || true	# the module's softdep
insmod "$repo/build/$kver/dm-hybridmig.ko"

ms() { echo $(( $(date +%s%N) / 1000000 )); }
field() { dmsetup status "$1" | cut -d' ' -f$(( $2 + 3 )); }

# Two hosts: the destination is a second network namespace over a veth.
ip netns add dst-host
ip link add veth-src type veth peer name veth-dst
ip link set veth-dst netns dst-host
ip addr add 192.0.2.1/24 dev veth-src
ip link set veth-src up
ip -n dst-host addr add 192.0.2.2/24 dev veth-dst
ip -n dst-host link set veth-dst up
ip -n dst-host link set lo up

# The VM's disk starts from a base image both hosts hold (start_clean):
# only what the VM writes from now on has to move.
truncate -s 256M /tmp/vm-disk.img /tmp/vm-disk-dst.img
disk=$(losetup --show -f /tmp/vm-disk.img)
disk_dst=$(losetup --show -f /tmp/vm-disk-dst.img)
size=$(blockdev --getsz "$disk")
dmsetup create vm-disk --table "0 $size hybridmig source $disk - 128 1 start_clean"
dmsetup create vm-disk-dst --table "0 $size hybridmig dest $disk_dst - 128"
echo "\$ dmsetup table vm-disk"
dmsetup table vm-disk

# A VM at work, before and during the migration: a hot spot rewritten
# over and over, plus a cold sequential stream.
fio --filename=/dev/mapper/vm-disk --direct=1 --ioengine=libaio --time_based \
	--runtime=120 --output-format=json --output=/tmp/fio.json \
	--name=hot --rw=randwrite --bs=4k --iodepth=8 --offset=0 --size=16M --rate=2m \
	--name=cold --rw=write --bs=256k --iodepth=2 --offset=128M --size=64M --rate=4m \
	> /dev/null &
fio_pid=$!
sleep 3

"$ctl" key generate /tmp/vm-disk.key
"$ctl" key load hybridmig:vm-disk /tmp/vm-disk.key
echo "\$ ip netns exec dst-host dmsetup message vm-disk-dst 0 listen 192.0.2.2:7000 hybridmig:vm-disk"
ip netns exec dst-host dmsetup message vm-disk-dst 0 listen 192.0.2.2:7000 hybridmig:vm-disk
echo "\$ dmsetup message vm-disk 0 connect 192.0.2.2:7000 hybridmig:vm-disk"
t_connect=$(ms)
dmsetup message vm-disk 0 connect 192.0.2.2:7000 hybridmig:vm-disk
sleep 4
echo "\$ hybridmigctl status   # pushing while the VM writes"
"$ctl" status

# Once the push has converged (the hot spot stays deferred), the
# hypervisor pauses the VM (fio stops) and hands over.
until [ "$(field vm-disk 18)" = 1 ]; do sleep 0.1; done
t_ready=$(ms)
kill -INT $fio_pid
wait $fio_pid || true
"$ctl" status vm-disk --json > "$out/status-ready.json"
echo "\$ dmsetup message vm-disk 0 handover"
t_handover=$(ms)
dmsetup message vm-disk 0 handover
t_switched=$(ms)

# The VM runs on the destination: its reads of chunks still missing are
# pulled on demand while the rest is prefetched.
fio --filename=/dev/mapper/vm-disk-dst --direct=1 --ioengine=psync --name=reads \
	--rw=randread --bs=4k --offset=0 --size=16M --time_based --runtime=3 \
	--output-format=json --output=/tmp/fio-dst.json > /dev/null
until [ "$(field vm-disk-dst 2)" = complete ]; do sleep 0.1; done
t_complete=$(ms)
echo "\$ hybridmigctl status   # complete"
"$ctl" status
"$ctl" status vm-disk --json > "$out/status.json"
"$ctl" status vm-disk-dst --json > "$out/status-dst.json"
same=no
[ "$(md5sum < "$disk")" = "$(md5sum < "$disk_dst")" ] && same=yes

# Cut-over: the destination becomes a plain linear device, the source goes.
ip netns exec dst-host dmsetup message vm-disk-dst 0 disconnect
dmsetup reload vm-disk-dst --table "0 $size linear $disk_dst 0"
dmsetup resume vm-disk-dst
dmsetup remove vm-disk
echo "\$ dmsetup table vm-disk-dst   # after cut-over"
dmsetup table vm-disk-dst

python3 - "$out" "$kver" "$same" $t_connect $t_ready $t_handover $t_switched $t_complete <<'PY'
import json, sys
out, kver, same = sys.argv[1:4]
t_connect, t_ready, t_handover, t_switched, t_complete = map(int, sys.argv[4:9])
src = json.load(open(out + "/status.json"))["devices"][0]
dst = json.load(open(out + "/status-dst.json"))["devices"][0]
def fio_json(path):
    text = open(path).read()	# fio may print a notice before the JSON
    return json.loads(text[text.index("{"):])
fio = fio_json("/tmp/fio.json")
reads = fio_json("/tmp/fio-dst.json")["jobs"][0]["read"]
written = sum(j["write"]["io_bytes"] for j in fio["jobs"])
x, dx = src["transfer"], dst["transfer"]
mib = 1 << 20
report = {
    "kernel": kver,
    "identical_at_completion": same == "yes",
    "guest_bytes_written": written,
    "source": src, "destination": dst,
    "ms": {"connect_to_ready": t_ready - t_connect,
           "handover_message": t_switched - t_handover,
           "handover_to_complete": t_complete - t_handover},
    "dest_read_p99_us": reads["clat_ns"]["percentile"].get("99.000000", 0) / 1000,
}
json.dump(report, open(out + "/report.json", "w"), indent=2)
with open(out + "/report.txt", "w") as f:
    f.write(f"""hybridmig demo report (kernel {kver}, qemu TCG guest: absolute times are emulated)
  disk              {src['size_bytes'] // mib} MiB in {src['total_chunks']} chunks of {src['chunk_bytes'] // 1024} KiB, clean start over a shared base image
  guest wrote       {written / mib:.1f} MiB (hot spot + cold stream) before and during the push
  pushed            {x['sent_chunks']} chunks, {x['data_bytes'] / mib:.1f} MiB of data, {x['zero_chunks']} as zero runs; hot chunks deferred, not re-sent
  ready             {t_ready - t_connect} ms after connect
  handover          fence to destination's ack {x['handover_us'] / 1000:.1f} ms; destination switched in {dx['handover_us'] / 1000:.2f} ms
                    (the whole handover message took {t_switched - t_handover} ms)
  post-copy         {dx['pulls']} chunks pulled on demand (average {dx['pull_avg_us'] / 1000:.1f} ms), the rest prefetched;
                    VM reads on the destination: p99 {report['dest_read_p99_us'] / 1000:.1f} ms
  complete          {t_complete - t_handover} ms after handover; destination data identical to the source: {same}
  cut-over          the destination is a linear device now; the source is removed
""")
PY
"$ctl" key unload hybridmig:vm-disk
dmsetup remove vm-disk-dst
losetup -d "$disk" "$disk_dst"
ip netns del dst-host
[ "$same" = yes ] || { echo "demo: the destination differs from the source" >&2; exit 1; }
