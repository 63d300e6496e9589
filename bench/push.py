#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Helpers and result handling for the push benchmarks (standard library only).

  push.py tcp-recv <ip> <port>            raw TCP receiver (when iperf3 is missing)
  push.py tcp-send <ip> <port> <seconds>  raw TCP sender; prints JSON
  push.py tcp-mib <file>                  MiB/s of an iperf3 or tcp-send result
  push.py fio-line <fio.json>             one line per fio job, for the log
  push.py report --dir D ...              the guest's push.json from the logs
  push.py finish <push.json> --out F ...  add host facts, write F, print the summary
"""
import argparse
import json
import os
import socket
import statistics
import sys
import time

MIB = 1 << 20

# Status INFO fields (1-based), see /tmp/hm-push-spec.md and
# Documentation/hybridmig.rst.
F_TOTAL, F_DIRTY, F_LINK, F_RECONNECTS, F_ERROR = 4, 5, 9, 11, 12
F_TX_BYTES, F_TX_FRAMES = 13, 15
F_INFLIGHT, F_SENT, F_ZERO, F_ACKED, F_DATA_BYTES, F_RATE = 19, 20, 21, 22, 23, 24


def fields(text):
    """A status snapshot ("f1 f2 ...") as a dict field number -> str."""
    return {i: v for i, v in enumerate(text.split(), 1)}


def num(f, n):
    return int(f[n])


def median(xs):
    xs = [x for x in xs if x is not None]
    return round(statistics.median(xs), 4) if xs else None


def spread(xs):
    xs = [x for x in xs if x is not None]
    if len(xs) < 2:
        return 0.0
    m = statistics.median(xs)
    return round((max(xs) - min(xs)) / m, 4) if m else None


# ---- raw TCP fallback ----

def tcp_recv(ip, port):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((ip, port))
    srv.listen(1)
    conn, _ = srv.accept()
    total = 0
    buf = bytearray(1 << 20)
    t0 = time.monotonic()
    while True:
        n = conn.recv_into(buf)
        if not n:
            break
        total += n
    print(json.dumps({"bytes": total, "seconds": time.monotonic() - t0}))


def tcp_send(ip, port, secs):
    s = socket.create_connection((ip, port))
    data = os.urandom(1 << 20)
    total = 0
    t0 = time.monotonic()
    end = t0 + secs
    while time.monotonic() < end:
        s.sendall(data)
        total += len(data)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)  # until the receiver has read everything and closed
    t1 = time.monotonic()
    s.close()
    print(json.dumps({"bytes": total, "seconds": t1 - t0, "tool": "python"}))


def tcp_result(path):
    with open(path) as f:
        doc = json.load(f)
    if "end" in doc:  # iperf3 -J
        r = doc["end"]["sum_received"]
        s = doc["end"].get("sum_sent", {})
        cpu = doc["end"].get("cpu_utilization_percent", {})
        return {"bytes": r["bytes"], "seconds": r["seconds"],
                "mib_s": r["bytes"] / r["seconds"] / MIB,
                "retransmits": s.get("retransmits"),
                "sender_cpu_pct": cpu.get("host_total"),
                "receiver_cpu_pct": cpu.get("remote_total")}
    return {"bytes": doc["bytes"], "seconds": doc["seconds"],
            "mib_s": doc["bytes"] / doc["seconds"] / MIB}


# ---- fio ----

def load_fio(path):
    with open(path) as f:
        text = f.read()
    start = text.find("{")
    if start < 0:
        raise ValueError(f"{path}: no JSON in fio output")
    return json.loads(text[start:])


def pct(clat, key):
    for k, v in (clat.get("percentile") or {}).items():
        if abs(float(k) - key) < 1e-6:
            return v / 1000.0
    return None


def fio_jobs(path):
    out = {}
    for job in load_fio(path)["jobs"]:
        w = job["write"]
        if job.get("error", 0) != 0 or w.get("io_bytes", 0) <= 0:
            raise ValueError(f"{path}: fio job {job.get('jobname')}: error "
                             f"{job.get('error')}, {w.get('io_bytes')} bytes written")
        out[job["jobname"]] = {
            "iops": round(w["iops"], 1),
            "bw_mib_s": round(w["bw_bytes"] / MIB, 2),
            "clat_p50_us": pct(w["clat_ns"], 50.0),
            "clat_p99_us": pct(w["clat_ns"], 99.0),
            "clat_mean_us": round(w["clat_ns"]["mean"] / 1000.0, 2),
        }
    return out


# ---- report (guest) ----

def cpu_busy(rec):
    (b0, t0), (b1, t1) = rec["cpu"][:2], rec["cpu"][2:]
    return round((b1 - b0) / (t1 - t0), 3) if t1 > t0 else None


def task_shares(runs):
    """Each task's share of the guest's busy CPU time over all runs, top 8."""
    busy = sum(r["busy_ticks"] for r in runs)
    tot = {}
    for r in runs:
        for k, v in r["cpu_by_task_ticks"].items():
            tot[k] = tot.get(k, 0) + v
    top = sorted(tot.items(), key=lambda kv: -kv[1])[:8]
    return {k: round(v / busy, 3) for k, v in top} if busy else {}


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def report(a):
    tp = read_jsonl(os.path.join(a.dir, "throughput.jsonl"))
    sd = read_jsonl(os.path.join(a.dir, "slowdown.jsonl"))

    # 1. Throughput
    tcp = {}
    tls = {}
    pushes = []
    for rec in tp:
        if rec["kind"] == "tls":
            tls[rec["round"]] = rec["bytes"] / float(rec["seconds"]) / MIB
        elif rec["kind"] == "tcp":
            r = tcp_result(os.path.join(a.dir, rec["file"]))
            r.update(round=rec["round"], position=rec["position"],
                     guest_cpu_busy=cpu_busy(rec))
            tcp[rec["round"]] = r
        else:
            s, d = fields(rec["src"]), fields(rec["dst"])
            secs = float(rec["seconds"])
            data = num(s, F_DATA_BYTES)
            chunk_bytes = rec["chunk_sectors"] * 512
            pushes.append({
                "chunk_sectors": rec["chunk_sectors"], "round": rec["round"],
                "position": rec["position"], "seconds": secs,
                "data_bytes": data,
                "acked_bytes": num(s, F_ACKED) * chunk_bytes,
                "mib_s": data / secs / MIB,
                "wire_bytes": num(s, F_TX_BYTES),
                "wire_mib_s": num(s, F_TX_BYTES) / secs / MIB,
                "frames": num(s, F_TX_FRAMES),
                "sent_chunks": num(s, F_SENT), "acked_chunks": num(s, F_ACKED),
                "zero_chunks": num(s, F_ZERO), "total_chunks": num(s, F_TOTAL),
                "reconnects": num(s, F_RECONNECTS), "last_error": s[F_ERROR],
                "dst_missing_after": num(d, F_DIRTY),
                "guest_cpu_busy": cpu_busy(rec),
                "busy_ticks": rec["cpu"][2] - rec["cpu"][0],
                "cpu_by_task_ticks": dict(sorted(rec.get("tasks", {}).items(),
                                                 key=lambda kv: -kv[1])[:12]),
                "identical": rec.get("identical"),
            })
    throughput = {"raw_tcp": {
        "mib_s": median([t["mib_s"] for t in tcp.values()]),
        "spread": spread([t["mib_s"] for t in tcp.values()]),
        "guest_cpu_busy": median([t["guest_cpu_busy"] for t in tcp.values()]),
        "runs": [tcp[k] for k in sorted(tcp)]}, "push": {}}
    if tls:
        throughput["tls"] = {"mib_s": median(list(tls.values())),
                             "spread": spread(list(tls.values())),
                             "runs": [round(tls[k], 3) for k in sorted(tls)]}
    for chunk in sorted({p["chunk_sectors"] for p in pushes}):
        runs = [p for p in pushes if p["chunk_sectors"] == chunk]
        ratios = [p["mib_s"] / tcp[p["round"]]["mib_s"] for p in runs if p["round"] in tcp]
        throughput["push"][str(chunk)] = {
            "chunk_kib": chunk // 2,
            "mib_s": median([p["mib_s"] for p in runs]),
            "seconds": median([p["seconds"] for p in runs]),
            "wire_mib_s": median([p["wire_mib_s"] for p in runs]),
            "spread": spread([p["mib_s"] for p in runs]),
            "ratio_to_raw_tcp": median(ratios),
            "paired_ratios": [round(r, 4) for r in ratios],
            "ratio_to_tls": median([p["mib_s"] / tls[p["round"]]
                                    for p in runs if p["round"] in tls]) if tls else None,
            "wire_overhead": round(runs[0]["wire_bytes"] / runs[0]["data_bytes"] - 1, 5)
            if runs[0]["data_bytes"] else None,
            "guest_cpu_busy": median([p["guest_cpu_busy"] for p in runs]),
            "all_identical": all(p["identical"] is not False for p in runs),
            "cpu_share_by_task": task_shares(runs),
            "runs": runs,
        }

    # 2. Slowdown
    arms = []
    for rec in sd:
        jobs = fio_jobs(os.path.join(a.dir, rec["file"]))
        item = {"arm": rec["arm"], "round": rec["round"], "position": rec["position"],
                "wall_s": float(rec["wall_s"]), "jobs": jobs}
        if rec["arm"] == "push":
            b, e = fields(rec["before"]), fields(rec["after"])
            item["push"] = {
                "dirty_after": num(e, F_DIRTY), "total_chunks": num(e, F_TOTAL),
                "link_after": e[F_LINK], "reconnects": num(e, F_RECONNECTS),
                "acked_during": num(e, F_ACKED) - num(b, F_ACKED),
                "data_mib_during": round((num(e, F_DATA_BYTES) - num(b, F_DATA_BYTES)) / MIB, 1),
                "mib_s_during": round((num(e, F_DATA_BYTES) - num(b, F_DATA_BYTES)) / MIB
                                      / float(rec["wall_s"]), 2),
                "covered_window": num(e, F_DIRTY) > 0 and e[F_LINK] == "connected"
                and num(e, F_RECONNECTS) == num(b, F_RECONNECTS),
            }
        arms.append(item)
    workloads = {}
    names = sorted({n for x in arms for n in x["jobs"]})
    for name in names:
        per_round = []
        for rnd in sorted({x["round"] for x in arms}):
            idle = [x for x in arms if x["round"] == rnd and x["arm"] == "idle"]
            push = [x for x in arms if x["round"] == rnd and x["arm"] == "push"]
            if not idle or not push:
                continue
            i, p = idle[0]["jobs"][name], push[0]["jobs"][name]
            per_round.append({
                "round": rnd, "first": "idle" if idle[0]["position"] == 1 else "push",
                "ratio_iops": round(p["iops"] / i["iops"], 4),
                "ratio_bw": round(p["bw_mib_s"] / i["bw_mib_s"], 4),
                "ratio_clat_p99": round(p["clat_p99_us"] / i["clat_p99_us"], 4)
                if i["clat_p99_us"] else None,
                "ratio_clat_mean": round(p["clat_mean_us"] / i["clat_mean_us"], 4),
            })
        summary = {}
        for arm in ("idle", "push"):
            js = [x["jobs"][name] for x in arms if x["arm"] == arm]
            summary[arm] = {k: median([j[k] for j in js]) for k in
                            ("iops", "bw_mib_s", "clat_p50_us", "clat_p99_us", "clat_mean_us")}
            summary[arm]["spread_iops"] = spread([j["iops"] for j in js])
        summary.update({
            "ratio_iops": median([r["ratio_iops"] for r in per_round]),
            "ratio_bw": median([r["ratio_bw"] for r in per_round]),
            "ratio_clat_p99": median([r["ratio_clat_p99"] for r in per_round]),
            "ratio_clat_mean": median([r["ratio_clat_mean"] for r in per_round]),
            "paired": per_round,
        })
        workloads[name] = summary
    push_arms = [x["push"] for x in arms if x["arm"] == "push"]
    slowdown = {
        "workloads": workloads,
        "push_covered_every_window": all(p["covered_window"] for p in push_arms),
        "push_mib_s_during_fio": median([p["mib_s_during"] for p in push_arms]),
        "arms": arms,
    }

    bad = []
    if a.kernel_log and os.path.exists(a.kernel_log):
        with open(a.kernel_log) as f:
            bad = [line.rstrip() for line in f if line.strip()][:20]
    doc = {
        "kernel": a.kernel, "mode": a.mode, "rounds": a.rounds,
        "link": a.link, "shape": a.shape or None, "tcp_tool": a.tcp_tool,
        "link_mac": a.crypto,
        "throughput": dict(throughput, image_mib=a.size_mib, tcp_seconds=a.tcp_secs,
                           data="random (one random MiB repeated), every chunk a DATA frame"),
        "slowdown": dict(slowdown, disk_mib=a.alias_mib, fio_seconds=a.fio_secs,
                         fio_ramp_s=a.fio_ramp),
        "machine": {"cpus": a.cpus, "mem_mib": a.mem_mib, "accel": "tcg"},
        "kernel_log_problems": bad,
        "guest_seconds": float(a.guest_seconds),
    }
    json.dump(doc, sys.stdout, indent=2)
    print()


# ---- finish (host) ----

def fmt(x, spec=".3f"):
    return "-" if x is None else format(x, spec)


def host_facts(doc, a):
    """The host's side of a run (bench/vm.sh, bench_host_args) into doc."""
    samples = []
    if a.host_samples and os.path.exists(a.host_samples):
        with open(a.host_samples) as f:
            samples = [line.split() for line in f if line.strip()]
    doc["machine"]["icount"] = None if a.icount == "off" else a.icount
    doc["host"] = {
        "cpus": a.host_cpus, "load_before": a.load_before, "load_after": a.load_after,
        "load_max": max((float(s[0]) for s in samples), default=None),
        "other_vms_max": max((int(s[1]) for s in samples), default=None),
        "qemu": a.qemu, "module_md5": a.module_md5, "source": a.source,
        "wall_s": float(a.wall), "guest_crashes_retried": int(a.retried),
        "fallback": a.fallback or None,
    }


def add_host_args(p):
    """The options that carry host_facts' input, and --out."""
    for opt in ("--out", "--host-cpus", "--load-before", "--load-after", "--qemu",
                "--module-md5", "--source", "--wall", "--host-samples", "--icount",
                "--fallback"):
        p.add_argument(opt, default="")
    p.add_argument("--retried", default="0")


def finish(a):
    with open(a.path) as f:
        doc = json.load(f)
    host_facts(doc, a)
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, a.out)

    tp, sd = doc["throughput"], doc["slowdown"]
    clock = ("virtual clock -icount " + a.icount) if a.icount != "off" else "host clock"
    print(f"push benchmarks, kernel {doc['kernel']} ({doc['mode']}: {doc['rounds']} rounds, "
          f"median), qemu TCG {doc['machine']['cpus']} vCPUs, {clock}")
    print(f"  link: {doc['link']}; link MAC {doc['link_mac']}")
    raw = tp["raw_tcp"]
    if raw["runs"]:
        print_throughput(doc, tp, raw)
    if sd["workloads"]:
        print_slowdown(sd)
    print("  emulated machine (TCG): absolute figures mean nothing outside this benchmark; ratios from one run only")
    if doc["kernel_log_problems"]:
        print("  kernel log problems:")
        for line in doc["kernel_log_problems"][:5]:
            print("    " + line)


def print_throughput(doc, tp, raw):
    print(f"  1. throughput, {tp['image_mib']} MiB all dirty, random data")
    print(f"     raw TCP ({doc['tcp_tool']}, 1 stream, {tp['tcp_seconds']}s)   "
          f"{fmt(raw['mib_s'], '8.1f')} MiB/s   guest CPU busy {fmt(raw['guest_cpu_busy'], '.0%')}"
          f"   spread {fmt(raw['spread'], '.1%')}")
    if tp.get("tls"):
        print(f"     TLS 1.3 AES-256-GCM (openssl)  {fmt(tp['tls']['mib_s'], '8.1f')} MiB/s"
              f"   spread {fmt(tp['tls']['spread'], '.1%')}")
    for chunk, p in tp["push"].items():
        if p.get("ratio_to_tls") is not None:
            print(f"     push/TLS, chunk {p['chunk_kib']:>4} KiB   {fmt(p['ratio_to_tls'])}")
    for chunk, p in tp["push"].items():
        print(f"     push, chunk {p['chunk_kib']:>4} KiB          {fmt(p['mib_s'], '8.1f')} MiB/s"
              f"   guest CPU busy {fmt(p['guest_cpu_busy'], '.0%')}   spread {fmt(p['spread'], '.1%')}"
              f"   push/raw {fmt(p['ratio_to_raw_tcp'])}  (per round "
              f"{' '.join(fmt(r) for r in p['paired_ratios'])}){'' if p['all_identical'] else '  DATA DIFFERS'}")
    for chunk, p in tp["push"].items():
        shares = ", ".join(f"{k} {v:.0%}" for k, v in p.get("cpu_share_by_task", {}).items())
        if shares:
            print(f"     busy CPU during the push, chunk {p['chunk_kib']} KiB, by task: {shares}")


def print_slowdown(sd):
    print(f"  2. guest slowdown: fio on the source, no link vs. during a push "
          f"({sd['disk_mib']} MiB all dirty, push {fmt(sd['push_mib_s_during_fio'], '.1f')} MiB/s "
          f"meanwhile{'' if sd['push_covered_every_window'] else '; THE PUSH DID NOT COVER EVERY WINDOW'})")
    print(f"     {'workload':<20} {'idle':>14} {'during push':>14}  ratio   p99 idle/push (us)  p99 ratio  per-round ratios")
    for name, w in sd["workloads"].items():
        unit = "IOPS" if "4k" in name else "MiB/s"
        key = "iops" if unit == "IOPS" else "bw_mib_s"
        rk = "ratio_iops" if unit == "IOPS" else "ratio_bw"
        print(f"     {name:<20} {fmt(w['idle'][key], '9.0f')} {unit:<5}{fmt(w['push'][key], '9.0f')} {unit:<5}"
              f"  {fmt(w[rk])}   {fmt(w['idle']['clat_p99_us'], '.0f'):>7}/{fmt(w['push']['clat_p99_us'], '.0f'):<9}"
              f"   {fmt(w['ratio_clat_p99'], '.2f'):>6}   {' '.join(fmt(r[rk]) for r in w['paired'])}")


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    cmd = sys.argv[1]
    if cmd == "tcp-recv":
        tcp_recv(sys.argv[2], int(sys.argv[3]))
    elif cmd == "tcp-send":
        tcp_send(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    elif cmd == "tcp-mib":
        print(f"{tcp_result(sys.argv[2])['mib_s']:.1f}")
    elif cmd == "fio-line":
        print(", ".join(f"{n} {j['iops']:.0f} IOPS {j['bw_mib_s']:.1f} MiB/s p99 {j['clat_p99_us']:.0f} us"
                        for n, j in fio_jobs(sys.argv[2]).items()))
    elif cmd == "report":
        p = argparse.ArgumentParser()
        for opt in ("--dir", "--kernel", "--mode", "--link", "--shape", "--tcp-tool",
                    "--crypto", "--kernel-log", "--guest-seconds"):
            p.add_argument(opt, default="")
        for opt in ("--rounds", "--size-mib", "--alias-mib", "--tcp-secs", "--fio-secs",
                    "--fio-ramp", "--cpus", "--mem-mib", "--hz"):
            p.add_argument(opt, type=int, default=0)
        report(p.parse_args(sys.argv[2:]))
    elif cmd == "finish":
        p = argparse.ArgumentParser()
        p.add_argument("path")
        add_host_args(p)
        finish(p.parse_args(sys.argv[2:]))
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
