#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Host-side smoke test of the migration benchmark's analysis and report
(bench/migrate.py) on tiny canned data: no VM. Prints "N passed, N failed"."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
MIGRATE = os.path.join(HERE, "migrate.py")
results = {"passed": 0, "failed": 0}


def check(name, cond, detail=""):
    results["passed" if cond else "failed"] += 1
    print(("PASS " if cond else "FAIL ") + name + ("" if cond else ": " + detail))


def status(**kv):
    """A 30-field status line with the given fields set."""
    names = __import__("migrate").FIELDS
    vals = {n: "0" for n in names}
    vals.update(role="source", phase="complete", link_state="connected", address="-",
                last_error="-", policy="hybrid")
    vals.update({k: str(v) for k, v in kv.items()})
    return " ".join(vals[n] for n in names)


def canned_run(raw, policy, peer, scale):
    """A run's raw files, as the guest leaves them in raw/<run>/: a latency
    log of 100 I/Os a second for 20 s, slower (x scale) during the push."""
    t0 = 1_700_000_000.0
    times = dict(start=t0, connect=t0 + 4, ready=t0 + 9, pause=t0 + 9, handover=t0 + 9.01,
                 resume=t0 + 9.02, complete=t0 + 12, end=t0 + 20)
    os.makedirs(raw, exist_ok=True)
    lat = os.path.join(raw, "lat.log")
    with open(lat, "w") as f:
        for i in range(2000):
            t = t0 + i / 100.0
            ns = 100_000 * (scale if times["connect"] <= t < times["pause"] else 1)
            f.write(f"{int(t * 1000)}, {ns}, {i % 2}, 4096, 0\n")
    fio = os.path.join(raw, "fio.json")
    with open(fio, "w") as f:
        f.write("fio: terminating on signal 2\n" + json.dumps({"jobs": [{"error": 0}]}))
    meta = (f'"link": "lan", "link_mbit": 16, "rtt_ms": 0.2, "disk_bytes": {64 << 20}, '
            f'"must_move_bytes": {8 << 20}, "workload": "hotspot", "peer": "{peer}", '
            f'"policy": "{policy}", "forced_pause": false, "wire_bytes": {9 << 20}, '
            f'"src": "{status(handover_us=20000)}", "dst": "{status(role="dest", pulls=5, pull_avg_us=30000)}"')
    times = " ".join(f"{k}={v}" for k, v in times.items())
    with open(os.path.join(raw, "times"), "w") as f:
        f.write(times + " ")
    with open(os.path.join(raw, "meta.json"), "w") as f:
        f.write("{" + meta + "}\n")
    return lat, fio, times, meta


def one_run(tmp, policy, peer, scale):
    """Run migrate.py run on a canned run."""
    lat, fio, times, meta = canned_run(os.path.join(tmp, "raw", policy), policy, peer, scale)
    out = subprocess.run([sys.executable, MIGRATE, "run", "--lat", lat, "--fio", fio, "--times",
                          times, "--meta", meta], capture_output=True, text=True)
    check(f"run {policy}: exit 0", out.returncode == 0, out.stderr)
    return json.loads(out.stdout) if out.returncode == 0 else None


def check_collect(tmp, hy):
    """migrate.py collect: the guest's facts, its finished runs and its raw
    runs (analysed as by run) into one document."""
    res = os.path.join(tmp, "results")
    canned_run(os.path.join(res, "raw", "lan-hybrid-hotspot"), "hybrid", "hybridmig", 2)
    os.makedirs(os.path.join(res, "runs"))
    with open(os.path.join(res, "runs", "scale-chunk-128.json"), "w") as f:
        json.dump({"kind": "scale-chunk", "chunk_bytes": 65536, "seconds": 2.0,
                   "data_bytes": 8 << 20, "tx_bytes": 8 << 20, "sent_chunks": 128}, f)
    with open(os.path.join(res, "facts.json"), "w") as f:
        json.dump({"kernel": "6.12-test", "mode": "quick", "cpus": 2, "mem_mib": 3000,
                   "guest_seconds": 12.5, "failed": "lan-multi ", "profile": "disk_mib=32 foot_mib=16"}, f)
    with open(os.path.join(res, "kernel-bad.txt"), "w") as f:
        f.write("WARNING: something\n")
    out = subprocess.run([sys.executable, MIGRATE, "collect", res], capture_output=True, text=True)
    check("collect: exit 0", out.returncode == 0, out.stderr)
    doc = json.loads(out.stdout) if out.returncode == 0 else {}
    kinds = [r["kind"] for r in doc.get("runs", [])]
    check("collect: raw and finished runs", kinds == ["migration", "scale-chunk"], str(kinds))
    check("collect: raw run analysed as by run", doc.get("runs", [{}])[0] == hy)
    check("collect: facts", doc.get("profile") == {"disk_mib": "32", "foot_mib": "16"} and
          doc.get("failed_parts") == ["lan-multi"] and doc.get("guest_seconds") == 12.5, str(doc)[:300])
    check("collect: kernel log", doc.get("kernel_log_problems") == ["WARNING: something"])
    check("collect: a line per run", "lan-hybrid-hotspot: 8.0s" in out.stderr, out.stderr)
    with open(os.path.join(res, "raw", "lan-hybrid-hotspot", "meta.json"), "w") as f:
        f.write('"policy": "hybrid"\n')
    out = subprocess.run([sys.executable, MIGRATE, "collect", res], capture_output=True, text=True)
    check("collect: a broken raw run fails", out.returncode != 0 and "not a JSON object" in out.stderr,
          out.stderr)


def main():
    sys.path.insert(0, HERE)
    tmp = tempfile.mkdtemp()
    try:
        hy = one_run(tmp, "hybrid", "hybridmig", 2)
        pc = one_run(tmp, "precopy", "hybridmig", 4)
        mb = one_run(tmp, "background", "qemu-mirror", 8)
        if not (hy and pc and mb):
            return 1
        check("phases split by time", hy["phases"]["before"]["ios"] == 400, str(hy["phases"]["before"]))
        check("throughput per phase", abs(hy["phases"]["before"]["iops"] - 100) < 1,
              str(hy["phases"]["before"]))
        check("p99 of the push phase", hy["phases"]["push"]["p99_ms"] == 0.2, str(hy["phases"]["push"]))
        check("migration time", hy["migration_s"] == 8.0, str(hy["migration_s"]))
        check("time vs ideal", abs(hy["time_vs_ideal"] - 8.0 / ((8 << 20) / 2e6)) < 0.01,
              str(hy["time_vs_ideal"]))
        check("status parsed", hy["dst"]["pulls"] == 5 and hy["src"]["handover_us"] == 20000)
        check_collect(tmp, hy)
        doc = {"kernel": "6.12-test", "mode": "quick", "guest_seconds": 1.0,
               "profile": {"disk_mib": "64", "foot_mib": "8", "before_s": "3", "after_s": "3"},
               "machine": {"cpus": 2, "mem_mib": 3000, "accel": "tcg", "icount": "shift=2,sleep=on"},
               "host": {"cpus": 2, "qemu": "QEMU test", "load_before": "1", "load_max": 2.0,
                        "other_vms_max": 1, "wall_s": 10.0, "module_md5": "x", "source": "y"},
               "kernel_log_problems": [],
               "runs": [hy, pc, mb,
                        {"kind": "multi", "link": "lan", "link_mbit": 16, "rtt_ms": 0.2, "n": 2,
                         "footprint_bytes": 4 << 20, "wire_bytes": 9 << 20,
                         "migrations": [{"seconds": 4.0, "data_bytes": 4 << 20, "tx_bytes": 1},
                                        {"seconds": 5.0, "data_bytes": 4 << 20, "tx_bytes": 1}]},
                        {"kind": "scale-handover", "disk_bytes": 1 << 30, "chunks": 16384,
                         "missing": 16384, "src_handover_us": 9000, "dst_handover_us": 800,
                         "message_s": "0.02", "vmalloc_bytes": 0, "slab_bytes": 20480},
                        {"kind": "scale-chunk", "chunk_bytes": 65536, "seconds": 2.0,
                         "data_bytes": 8 << 20, "tx_bytes": 8 << 20, "sent_chunks": 128},
                        {"kind": "scale-misses", "link": "lan", "link_mbit": 16, "rtt_ms": 0.2,
                         "chunk_bytes": 65536, "disk_bytes": 48 << 20, "pulls": 10,
                         "pull_avg_us": 40000, "missing_after": 3,
                         "fio": {"ios": 10, "iops": 2, "p50_ms": 40, "p99_ms": 90, "mean_ms": 45}}]}
        path = os.path.join(tmp, "migrate.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        md = os.path.join(tmp, "benchmarks.md")
        out = subprocess.run([sys.executable, MIGRATE, "report", path, "--md", md, "--plots",
                              os.path.join(tmp, "plots"), "--command", "make bench"],
                             capture_output=True, text=True)
        check("report: exit 0", out.returncode == 0, out.stderr[-2000:])
        text = open(md).read() if os.path.exists(md) else ""
        check("report: headline pre-copy / hybrid", "pre-copy / hybrid: migration time **1.00x**" in text,
              text[:400])
        check("report: matrix table", "| hotspot | QEMU mirror (background) |" in text)
        check("report: Jain's index", "| lan | 2 | 5.0 |" in text and "0.988" in text)
        check("report: scale table", "| 1 GiB | 16384 | 16384 | 9.0 |" in text)
        check("report: read-miss target", "2 x (RTT + chunk transfer) = 65.9 ms" in text, text[-1500:])
        if shutil.which("gnuplot"):
            pngs = os.listdir(os.path.join(tmp, "plots"))
            check("report: plots", {"time-lan.png", "multi.png", "scale.png", "chunk.png"} <= set(pngs),
                  str(pngs))
    finally:
        shutil.rmtree(tmp)
    print(f"{results['passed']} passed, {results['failed']} failed")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
