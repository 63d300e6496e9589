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
insmod "$repo/build/$kver/dm-hybridmig.ko"

truncate -s 256M /tmp/vm-disk.img
disk=$(losetup --show -f /tmp/vm-disk.img)
size=$(blockdev --getsz "$disk")

# The VM's disk starts from a base image the destination already holds
# (start_clean): only what the VM writes from now on will have to move.
dmsetup create vm-disk --table "0 $size hybridmig source $disk - 128 1 start_clean"
echo "\$ dmsetup table vm-disk"
dmsetup table vm-disk

# A VM at work: a hot spot rewritten over and over, plus a cold stream.
fio --filename=/dev/mapper/vm-disk --direct=1 --ioengine=libaio --time_based \
	--runtime=6 --output-format=json --output=/tmp/fio.json \
	--name=hot --rw=randwrite --bs=4k --iodepth=8 --offset=0 --size=16M \
	--name=cold --rw=write --bs=256k --iodepth=2 --offset=128M --size=64M > /dev/null
echo "\$ dmsetup status vm-disk"
dmsetup status vm-disk
echo "\$ hybridmigctl status"
"$ctl" status
"$ctl" status vm-disk --json > "$out/status.json"
dirty=$(dmsetup message vm-disk 0 list_dirty)

# The destination host: a second network namespace over a veth pair, a
# destination device over its own volume, and a shared secret in the
# kernel keyring. The source connects and both authenticate.
ip netns add dst-host
ip link add veth-src type veth peer name veth-dst
ip link set veth-dst netns dst-host
ip addr add 192.0.2.1/24 dev veth-src
ip link set veth-src up
ip -n dst-host addr add 192.0.2.2/24 dev veth-dst
ip -n dst-host link set veth-dst up
ip -n dst-host link set lo up
truncate -s 256M /tmp/vm-disk-dst.img
disk_dst=$(losetup --show -f /tmp/vm-disk-dst.img)
dmsetup create vm-disk-dst --table "0 $size hybridmig dest $disk_dst - 128"
"$ctl" key generate /tmp/vm-disk.key
"$ctl" key load hybridmig:vm-disk /tmp/vm-disk.key
echo "\$ ip netns exec dst-host dmsetup message vm-disk-dst 0 listen 192.0.2.2:7000 hybridmig:vm-disk"
ip netns exec dst-host dmsetup message vm-disk-dst 0 listen 192.0.2.2:7000 hybridmig:vm-disk
echo "\$ dmsetup message vm-disk 0 connect 192.0.2.2:7000 hybridmig:vm-disk"
t0=$(date +%s%N)
dmsetup message vm-disk 0 connect 192.0.2.2:7000 hybridmig:vm-disk
until dmsetup status vm-disk | grep -q ' connected '; do sleep 0.05; done
t1=$(date +%s%N)
sleep 3
echo "\$ hybridmigctl status"
"$ctl" status
"$ctl" status vm-disk --json > "$out/status.json"
"$ctl" status vm-disk-dst --json > "$out/status-dst.json"
echo "$(( (t1 - t0) / 1000000 ))" > /tmp/connect-ms

python3 - "$out" "$dirty" "$kver" <<'PY'
import json, sys
out, dirty, kver = sys.argv[1], sys.argv[2], sys.argv[3]
st = json.load(open(out + "/status.json"))["devices"][0]
fio = json.load(open("/tmp/fio.json"))
written = sum(j["write"]["io_bytes"] for j in fio["jobs"])
ranges = dirty.split()
dst = json.load(open(out + "/status-dst.json"))["devices"][0]
connect_ms = int(open("/tmp/connect-ms").read())
report = {
    "kernel": kver,
    "destination": dst,
    "connect_and_authenticate_ms": connect_ms,
    "device": st,
    "workload_bytes_written": written,
    "dirty_ranges": ranges,
    "bytes_to_move": st["dirty_bytes"],
    "traffic_saved_vs_resending_writes": written / max(st["dirty_bytes"], 1),
}
json.dump(report, open(out + "/report.json", "w"), indent=2)
mib = 1 << 20
with open(out + "/report.txt", "w") as f:
    f.write(f"""hybridmig demo report (kernel {kver}, qemu TCG guest)
  device            vm-disk: {st['size_bytes'] // mib} MiB, {st['total_chunks']} chunks of {st['chunk_bytes'] // 1024} KiB
  phase             {st['phase']} (source role, clean start over a shared base image)
  guest wrote       {written / mib:.1f} MiB in {st['write_bios']} write bios
  dirty now         {st['dirty_chunks']} chunks = {st['dirty_bytes'] / mib:.1f} MiB to move ({len(ranges)} ranges: {' '.join(ranges[:6])}{' ...' if len(ranges) > 6 else ''})
  hot chunks        {st['hot_chunks']} written >= {st['hot_threshold']} times (the hybrid push policy will send these once, after handover)
  write reduction   {report['traffic_saved_vs_resending_writes']:.1f}x fewer bytes to move than the guest wrote
  link              {st['link']['state']} to {st['link']['address']} ({dst['role']} device vm-disk-dst, {dst['link']['state']}),
                    two authenticated TCP lanes up in {connect_ms} ms; {st['link']['tx_frames']} frames out, {st['link']['rx_frames']} in (keepalive)
  next              pushing the dirty chunks over this link is the next step of hybridmig
""")
PY
dmsetup remove vm-disk
dmsetup remove vm-disk-dst
"$ctl" key unload hybridmig:vm-disk
losetup -d "$disk" "$disk_dst"
ip netns del dst-host
