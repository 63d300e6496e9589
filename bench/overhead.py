#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Result handling for the pass-through overhead benchmark (standard library only).

  overhead.py report <rounds.jsonl> --fio-dir D ...   the guest's overhead.json
      (medians, ratios) from the rounds' fio JSON; exits 1 if a fio job
      reported an error or wrote nothing
  overhead.py finish <overhead.json> --out F [host facts]   add host facts,
      write F and print the human summary (host side)
"""
import argparse
import json
import os
import statistics
import sys

GOAL_RATIO = 0.97
GOAL = "hybridmig >= 0.97 of dm-linear"
METRICS = ("iops", "bw_mib_s", "clat_p50_us", "clat_p99_us", "clat_mean_us",
           "usr_cpu", "sys_cpu")


def load_fio(path):
    with open(path) as f:
        text = f.read()
    # fio may print notes before the JSON document.
    start = text.find("{")
    if start < 0:
        raise ValueError("no JSON in fio output")
    return json.loads(text[start:])


def percentile(clat, key):
    pct = clat.get("percentile") or {}
    for k, v in pct.items():
        if abs(float(k) - key) < 1e-6:
            return v / 1000.0
    return None


def job_metrics(job):
    """The metrics of one fio job (one target in one round)."""
    w = job["write"]
    if job.get("error", 0) != 0 or w.get("io_bytes", 0) <= 0:
        raise ValueError(f"fio job {job.get('jobname')}: error {job.get('error')}, "
                         f"{w.get('io_bytes')} bytes written")
    clat = w["clat_ns"]
    return {
        "iops": round(w["iops"], 1),
        "bw_mib_s": round(w["bw_bytes"] / 2**20, 2),
        "clat_p50_us": percentile(clat, 50.0),
        "clat_p99_us": percentile(clat, 99.0),
        "clat_mean_us": round(clat["mean"] / 1000.0, 2),
        "usr_cpu": round(job.get("usr_cpu", 0.0), 2),
        "sys_cpu": round(job.get("sys_cpu", 0.0), 2),
        "ios": w.get("total_ios"),
    }


def load_runs(rounds_path, fio_dir):
    """One record per (workload, round, target), from rounds.jsonl and fio's JSON."""
    runs = []
    with open(rounds_path) as f:
        rounds = [json.loads(l) for l in f if l.strip()]
    for rnd in rounds:
        doc = load_fio(os.path.join(fio_dir, rnd["fio_json"]))
        jobs = {j["jobname"]: j for j in doc["jobs"]}
        for pos, target in enumerate(rnd["order"].split(","), 1):
            rec = {"workload": rnd["workload"], "round": rnd["round"],
                   "target": target, "position": pos}
            rec.update(job_metrics(jobs[target]))
            # Writes fio issued, ramp included (from the sectors the dm
            # device saw), to set against the bios hybridmig's map saw.
            rec["dm_write_ios"] = rnd["dm_write_sectors"][target] * 512 // rnd["bs"]
            if target == "hybridmig" and rnd["hm_write_bios"] >= 0:
                rec["hm_write_bios"] = rnd["hm_write_bios"]
            runs.append(rec)
    return runs


def median_of(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return round(statistics.median(vals), 2) if vals else None


def spread(runs, key):
    """(max - min) / median of one target's runs: a rough noise figure."""
    vals = [r[key] for r in runs]
    med = statistics.median(vals)
    return round((max(vals) - min(vals)) / med, 4) if med else None


def ratio(a, b):
    return round(a / b, 4) if a is not None and b else None


def cmd_report(a):
    try:
        runs = load_runs(a.runs, a.fio_dir)
    except (OSError, ValueError, KeyError, IndexError) as e:
        print(f"overhead.py: bad fio results: {e}", file=sys.stderr)
        return 1
    workloads = {}
    for wl in dict.fromkeys(r["workload"] for r in runs):
        mine = [r for r in runs if r["workload"] == wl]
        entry = {}
        for target in ("linear", "hybridmig"):
            t = [r for r in mine if r["target"] == target]
            entry[target] = {k: median_of(t, k) for k in METRICS}
            entry[target]["spread_iops"] = spread(t, "iops")
        lin, hm = entry["linear"], entry["hybridmig"]
        # hybridmig over dm-linear within each round: adjacent runs in one
        # fio process, so a drift in the machine's speed between rounds
        # cancels out. Their median is THE ratio.
        paired = {"iops": [], "bw_mib_s": []}
        by_order = {"linear_first": [], "hybridmig_first": []}
        for rnd in sorted({r["round"] for r in mine}):
            l = [r for r in mine if r["round"] == rnd and r["target"] == "linear"]
            h = [r for r in mine if r["round"] == rnd and r["target"] == "hybridmig"]
            if l and h:
                for k in paired:
                    paired[k].append(ratio(h[0][k], l[0][k]))
                first = "linear_first" if l[0]["position"] == 1 else "hybridmig_first"
                by_order[first].append(paired["iops"][-1])
        entry["ratio_iops"] = round(statistics.median(paired["iops"]), 4) if paired["iops"] else None
        entry["ratio_bw"] = round(statistics.median(paired["bw_mib_s"]), 4) if paired["bw_mib_s"] else None
        entry["paired_ratios_iops"] = paired["iops"]
        # Whichever target runs first in a round tends to do a little
        # better; an even number of rounds balances that out.
        entry["paired_ratio_iops_by_order"] = {
            k: round(statistics.median(v), 4) if v else None for k, v in by_order.items()}
        # The same from the medians above (equal to the above on a steady
        # machine; worse when the machine's speed drifts).
        entry["ratio_iops_of_medians"] = ratio(hm["iops"], lin["iops"])
        entry["ratio_clat_p50"] = ratio(hm["clat_p50_us"], lin["clat_p50_us"])
        entry["ratio_clat_p99"] = ratio(hm["clat_p99_us"], lin["clat_p99_us"])
        hm_runs = [r for r in mine if r["target"] == "hybridmig" and "hm_write_bios" in r]
        bios = sum(r["hm_write_bios"] for r in hm_runs)
        ios = sum(r.get("dm_write_ios") or 0 for r in hm_runs)
        # Bios the target's map function saw per write fio submitted:
        # more than 1 when dm core splits I/O at max_io_len (the chunk).
        entry["hm_bios_per_io"] = round(bios / ios, 2) if ios else None
        entry["goal_met"] = (entry["ratio_iops"] is not None and
                             entry["ratio_iops"] >= GOAL_RATIO and
                             entry["ratio_bw"] >= GOAL_RATIO)
        entry["all_runs"] = mine
        workloads[wl] = entry
    with open(a.kernel_log) as f:
        bad = [l.rstrip("\n") for l in f][:20]
    limits = {}
    if a.queue_limits and os.path.exists(a.queue_limits):
        with open(a.queue_limits) as f:
            for line in f:
                parts = line.split(None, 2)
                if len(parts) == 3:
                    limits.setdefault(parts[0], {})[parts[1]] = parts[2].strip()
    doc = {
        "kernel": a.kernel,
        "backing": a.backing,
        "backing_desc": a.backing_desc,
        "backing_mib": a.backing_mib,
        "hybridmig_table": a.table,
        "mode": a.mode,
        "rounds": a.rounds,
        "runtime_s": a.runtime,
        "ramp_s": a.ramp,
        "workloads": workloads,
        "machine": {"cpus": a.cpus, "mem_mib": a.mem_mib, "accel": "tcg"},
        "goal": GOAL,
        "queue_limits": limits,
        "kernel_log_problems": bad,
        "guest_seconds": a.guest_seconds,
    }
    json.dump(doc, sys.stdout, indent=1)
    print()
    return 0


def cmd_finish(a):
    with open(a.overhead_json) as f:
        doc = json.load(f)
    load, others = [], []
    if a.host_samples and os.path.exists(a.host_samples):
        with open(a.host_samples) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2:
                    load.append(float(parts[0]))
                    others.append(int(parts[1]))
    contention = {
        "samples": len(load),
        "loadavg_max": max(load) if load else None,
        "other_vms_max": max(others) if others else None,
        "other_vms_mean": round(statistics.mean(others), 2) if others else None,
    }
    clock = None if a.icount in (None, "off") else a.icount
    doc["machine"]["icount"] = clock
    doc["host"] = {
        "cpus": a.host_cpus,
        "loadavg_before": a.load_before,
        "loadavg_after": a.load_after,
        "qemu": a.qemu,
        "module_md5": a.module_md5,
        "source": a.source,
        "bench_run_seconds": a.wall,
        "contention": contention,
        "guest_crashes_retried": a.retried,
        "fallback": a.fallback or None,
    }
    with open(a.out + ".tmp", "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(a.out + ".tmp", a.out)

    print(f"pass-through overhead, kernel {doc['kernel']} ({doc['mode']}: "
          f"{doc['rounds']} rounds x {doc['runtime_s']}s, median)")
    print(f"  backing: {doc['backing_desc']}; hybridmig table: {doc['hybridmig_table']}")
    print(f"  {'workload':<18} {'dm-linear':>22} {'hybridmig':>22} {'ratio':>7}  "
          f"{'p99 lin/hm (us)':>16}  per-round ratios")
    for wl, e in doc["workloads"].items():
        lin, hm = e["linear"], e["hybridmig"]
        if wl.startswith("rand"):
            fmt = lambda m: f"{m['iops']:>10.0f} IOPS"
        else:
            fmt = lambda m: f"{m['bw_mib_s']:>8.1f} MiB/s"
        mark = "" if e["goal_met"] else "  (below goal)"
        print(f"  {wl:<18} {fmt(lin):>22} {fmt(hm):>22} {e['ratio_iops']:>7.3f}  "
              f"{lin['clat_p99_us']:>7.0f}/{hm['clat_p99_us']:<8.0f}  "
              f"{' '.join(f'{x:.3f}' for x in e['paired_ratios_iops'])}{mark}")
    noise = max(max(e["linear"]["spread_iops"], e["hybridmig"]["spread_iops"])
                for e in doc["workloads"].values())
    print(f"  goal: {doc['goal']}; run-to-run spread up to {noise * 100:.1f}%")
    print(f"  TCG emulation, {'virtual clock -icount ' + clock if clock else 'host clock'}: "
          f"only the ratios mean anything")
    if a.fallback:
        print(f"  NOTE: {a.fallback}")
    if doc["kernel_log_problems"]:
        print("  WARNING: the kernel logged problems during the benchmark:")
        for l in doc["kernel_log_problems"][:5]:
            print(f"    {l}")
    if contention["other_vms_max"] and not clock:
        print(f"  WARNING: up to {contention['other_vms_max']} other VM(s) ran on this "
              f"{a.host_cpus}-CPU host during the benchmark (load average up to "
              f"{contention['loadavg_max']}), and the guest ran on the host's clock "
              f"(--realtime): expect noisy figures")
    print(f"  host load average {a.load_before} -> {a.load_after}; results in {a.out}")
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)

    rep = sub.add_parser("report")
    rep.add_argument("runs")
    rep.add_argument("--fio-dir", required=True)
    for opt in ("--kernel", "--backing", "--backing-desc", "--mode", "--table",
                "--kernel-log"):
        rep.add_argument(opt, required=True)
    for opt in ("--backing-mib", "--rounds", "--runtime", "--ramp", "--cpus", "--mem-mib"):
        rep.add_argument(opt, type=int, required=True)
    rep.add_argument("--guest-seconds", type=float, required=True)
    rep.add_argument("--queue-limits")

    f = sub.add_parser("finish")
    f.add_argument("overhead_json")
    f.add_argument("--out", required=True)
    f.add_argument("--host-cpus", type=int)
    f.add_argument("--load-before")
    f.add_argument("--load-after")
    f.add_argument("--qemu")
    f.add_argument("--module-md5")
    f.add_argument("--source")
    f.add_argument("--wall", type=float)
    f.add_argument("--host-samples")
    f.add_argument("--icount")
    f.add_argument("--retried", type=int, default=0)
    f.add_argument("--fallback")

    a = p.parse_args()
    return {"report": cmd_report,
            "finish": cmd_finish}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
