#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Results of the migration benchmarks (bench/guest-migrate.sh); standard
library only, plus gnuplot for the plots.

Guest side:
  migrate.py fio-read FIO_JSON     read figures of a fio result, as JSON
Host side (the guest's emulated CPU would take seconds per run):
  migrate.py run --lat LOG --fio JSON --times "k=t ..." --meta 'JSON fields'
                                   one run: the workload per phase, from fio's
                                   per-I/O latency log; prints the run's JSON
  migrate.py line RUN_JSON         one line about a run
  migrate.py collect RESULTS_DIR   the guest's results (facts.json, runs/,
                                   raw/<run>/ analysed as by run) into one
                                   document (migrate.json); a line per run on
                                   stderr
  migrate.py finish MIGRATE_JSON --out F [host facts]   add the host's facts
  migrate.py report MIGRATE_JSON --md FILE --plots DIR [--command CMD]
                                   the tables, headline ratios and plots
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

from push import add_host_args, host_facts, load_fio, pct

MIB = 1 << 20

# Status INFO fields 1..30 (Documentation/hybridmig.rst, "Status").
FIELDS = ("role phase chunk_sectors total_chunks dirty_chunks hot_chunks hot_threshold "
          "write_bios link_state address reconnects last_error tx_bytes rx_bytes tx_frames "
          "rx_frames policy ready inflight_chunks sent_chunks zero_chunks acked_chunks "
          "data_bytes rate dirty_rate deferred_chunks bandwidth handover_us pulls "
          "pull_avg_us").split()

# The workload's phases, between the driver's time stamps.
PHASES = (("before", "start", "connect"), ("push", "connect", "pause"),
          ("handover", "pause", "resume"), ("postcopy", "resume", "complete"),
          ("after", "complete", "end"), ("baseline", "start", "end"),
          ("migration", "connect", "complete"))
WORKLOADS = ("idle", "light", "hotspot", "mixed", "seqwrite", "fsync")
POLICIES = ("hybrid", "precopy", "postcopy", "background", "write-blocking")
LABEL = {"hybrid": "hybrid", "precopy": "precopy", "postcopy": "postcopy",
         "background": "QEMU mirror (background)", "write-blocking": "QEMU mirror (write-blocking)"}


def status(text):
    out = {}
    for name, v in zip(FIELDS, text.split()):
        try:
            out[name] = int(v)
        except ValueError:
            out[name] = v
    return out


def percentile(xs, p):
    """Nearest-rank percentile of a sorted list."""
    if not xs:
        return None
    k = max(0, min(len(xs) - 1, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


def window(ios, t0, t1):
    """Throughput and latency of the I/Os completed in [t0, t1) (seconds)."""
    secs = t1 - t0
    sel = [io for io in ios if t0 <= io[0] < t1]
    lat = sorted(io[1] for io in sel)
    rlat = sorted(io[1] for io in sel if io[2] == 0)
    ms = lambda ns: None if ns is None else round(ns / 1e6, 3)
    return {
        "seconds": round(secs, 3), "ios": len(sel),
        "iops": round(len(sel) / secs, 1) if secs >= 0.5 else None,
        "mib_s": round(sum(io[3] for io in sel) / secs / MIB, 3) if secs >= 0.5 else None,
        "p50_ms": ms(percentile(lat, 50)), "p99_ms": ms(percentile(lat, 99)),
        "max_ms": ms(lat[-1] if lat else None),
        "read_p50_ms": ms(percentile(rlat, 50)), "read_p99_ms": ms(percentile(rlat, 99)),
    }


def analyse_run(lat, fio_path, times_kv, meta):
    """One run with a workload: fio's latency log (lat), its result
    (fio_path), the driver's time stamps ("k=t ...") and the run's JSON
    fields (meta, without braces) into the run's document."""
    times = dict((k, float(v)) for k, v in (kv.split("=") for kv in times_kv.split()))
    ios = []
    with open(lat) as f:
        for line in f:
            t, ns, d, bs = line.split(",")[:4]
            # completion time (s), latency (ns), direction, bytes
            ios.append((int(t) / 1000.0, int(ns), int(d), int(bs)))
    fio = load_fio(fio_path)["jobs"][0]
    if fio.get("error", 0):
        raise SystemExit(f"{fio_path}: fio error {fio['error']}")
    doc = json.loads("{" + meta + "}")
    doc["kind"] = "migration" if doc["policy"] != "baseline" else "baseline"
    doc["times"] = {k: round(v - times["start"], 3) for k, v in times.items()}
    doc["phases"] = {name: window(ios, times[t0], times[t1]) for name, t0, t1 in PHASES
                     if t0 in times and t1 in times and (name == "baseline") == (doc["kind"] == "baseline")}
    for k in ("src", "dst", "src_at_ready"):
        if k in doc:
            doc[k] = status(doc[k])
    if doc["kind"] == "migration":
        d = doc["times"]
        link_bps = doc["link_mbit"] * 1e6 / 8
        doc["migration_s"] = round(d["complete"] - d["connect"], 3)
        doc["push_s"] = round(d["pause"] - d["connect"], 3)
        doc["downtime_ms"] = round((d["resume"] - d["pause"]) * 1000, 1)
        if "suspended" in d:  # suspend vm / handover (or cancel the mirror) / vm onto the destination
            doc["downtime_split_ms"] = [round((d[b] - d[a]) * 1000) for a, b in
                                        (("pause", "suspended"), ("suspended", "handover"), ("handover", "resume"))]
        doc["postcopy_s"] = round(d["complete"] - d["resume"], 3)
        doc["ideal_s"] = round(doc["must_move_bytes"] / link_bps, 3)
        doc["time_vs_ideal"] = round(doc["migration_s"] / doc["ideal_s"], 3)
        doc["traffic_vs_must_move"] = round(doc["wire_bytes"] / doc["must_move_bytes"], 3)
        doc["traffic_vs_disk"] = round(doc["wire_bytes"] / doc["disk_bytes"], 3)
    return doc


def run(a):
    json.dump(analyse_run(a.lat, a.fio, a.times, " ".join(a.meta)), sys.stdout, indent=1)
    print()


def analyse_raw(path):
    """A run's raw files as the guest left them in raw/<run>/."""
    with open(os.path.join(path, "times")) as f:
        times = f.read()
    with open(os.path.join(path, "meta.json")) as f:
        meta = f.read().strip()
    if not (meta.startswith("{") and meta.endswith("}")):
        raise SystemExit(f"{path}/meta.json: not a JSON object")
    return analyse_run(os.path.join(path, "lat.log"), os.path.join(path, "fio.json"), times, meta[1:-1])


def fio_read(path):
    r = load_fio(path)["jobs"][0]["read"]
    return {"ios": r["total_ios"], "iops": round(r["iops"], 1),
            "p50_ms": round(pct(r["clat_ns"], 50.0) / 1000, 3),
            "p99_ms": round(pct(r["clat_ns"], 99.0) / 1000, 3),
            "mean_ms": round(r["clat_ns"]["mean"] / 1e6, 3)}


def multi_figures(doc):
    """Aggregate link utilization and Jain's fairness index of N migrations."""
    ms = doc["migrations"]
    tput = [m["data_bytes"] / m["seconds"] for m in ms]
    makespan = max(m["seconds"] for m in ms)
    link_bps = doc["link_mbit"] * 1e6 / 8
    return {"makespan_s": round(makespan, 3),
            "aggregate_mib_s": round(sum(m["data_bytes"] for m in ms) / makespan / MIB, 3),
            "utilization": round(doc["wire_bytes"] / makespan / link_bps, 3),
            "jain": round(sum(tput) ** 2 / (len(tput) * sum(x * x for x in tput)), 4)}


def line(d):
    kind = d["kind"]
    if kind == "migration":
        return (f"{d['migration_s']:.1f}s ({d['time_vs_ideal']:.2f}x ideal), downtime "
                f"{d['downtime_ms']:.0f} ms, wire {d['wire_bytes'] / MIB:.1f} MiB "
                f"({d['traffic_vs_must_move']:.2f}x), postcopy {d['postcopy_s']:.1f}s"
                f"{', FORCED pause' if d.get('forced_pause') else ''}")
    if kind == "baseline":
        b = d["phases"]["baseline"]
        return f"baseline {b['iops']} IOPS, p99 {b['p99_ms']} ms"
    if kind == "multi":
        m = multi_figures(d)
        return (f"{d['n']} at once: {m['aggregate_mib_s']:.2f} MiB/s, utilization "
                f"{m['utilization']:.2f}, Jain {m['jain']:.3f}")
    if kind == "scale-handover":
        return (f"{d['chunks']} chunks: handover src {d['src_handover_us']} us, dst "
                f"{d['dst_handover_us']} us; kernel memory {(d['vmalloc_bytes'] + d['slab_bytes']) / 1024:.0f} KiB")
    if kind == "scale-chunk":
        return f"{d['data_bytes'] / d['seconds'] / MIB:.2f} MiB/s"
    if kind == "scale-misses":
        return f"read misses p50 {d['fio']['p50_ms']} ms, p99 {d['fio']['p99_ms']} ms, {d['pulls']} pulls"
    return kind


def collect(results):
    with open(os.path.join(results, "facts.json")) as f:
        facts = json.load(f)
    named = {}
    for path in glob.glob(os.path.join(results, "runs", "*.json")):
        with open(path) as f:
            named[os.path.basename(path)[:-5]] = json.load(f)
    for path in glob.glob(os.path.join(results, "raw", "*", "")):
        named[os.path.basename(os.path.dirname(path))] = analyse_raw(path)
    runs = [named[k] for k in sorted(named)]
    for k in sorted(named):
        print(f"{k}: {line(named[k])}", file=sys.stderr)
    problems = []
    kernel_log = os.path.join(results, "kernel-bad.txt")
    if os.path.exists(kernel_log):
        with open(kernel_log) as f:
            problems = [text.rstrip() for text in f][:50]
    doc = {"kernel": facts["kernel"], "mode": facts["mode"],
           "profile": dict(kv.split("=") for kv in facts["profile"].split()),
           "machine": {"cpus": facts["cpus"], "mem_mib": facts["mem_mib"], "accel": "tcg"},
           "guest_seconds": float(facts["guest_seconds"]), "kernel_log_problems": problems,
           "failed_parts": facts["failed"].split(),
           "runs": runs}
    json.dump(doc, sys.stdout, indent=1)
    print()


def finish(a):
    with open(a.path) as f:
        doc = json.load(f)
    host_facts(doc, a)
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


# ---- the report (host) ----

def fmt(x, spec=".2f", none="-"):
    return none if x is None else format(x, spec)


def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def baseline_of(runs, r):
    """The no-migration figures r is judged against: a baseline run of the same
    peer, link and workload if there is one, else r's own "before" window."""
    for b in runs:
        if b["kind"] == "baseline" and all(b[k] == r[k] for k in ("peer", "link", "workload")):
            return b["phases"]["baseline"]
    return r["phases"]["before"]


def rows(by, link, wls):
    """(workload, method, run) of one link, in table order."""
    for wl in wls:
        for pol in POLICIES:
            if (link, pol, wl) in by:
                yield wl, pol, by[(link, pol, wl)]


def report(a):
    with open(a.path) as f:
        doc = json.load(f)
    runs = doc["runs"]
    mig = [r for r in runs if r["kind"] == "migration"]
    links = sorted({r["link"] for r in mig}, key=lambda l: ["lan", "wan"].index(l) if l in ("lan", "wan") else 9)
    wls = sorted({r["workload"] for r in mig},
                 key=lambda wl: (WORKLOADS.index(wl) if wl in WORKLOADS else 99, wl))
    by = {(r["link"], r["policy"], r["workload"]): r for r in mig}
    os.makedirs(a.plots, exist_ok=True)
    rel = os.path.relpath(a.plots, os.path.dirname(a.md) or ".")
    out = []
    w = out.append
    h = doc.get("host", {})
    m = doc["machine"]
    p = doc["profile"]
    w("# hybridmig benchmarks: hybrid vs. pre-copy vs. post-copy vs. QEMU's mirror\n")
    w("<!-- generated by bench/migrate.py report from the JSON beside the plots; do not edit -->\n")
    w("**Every absolute figure here (seconds, MiB/s, milliseconds) comes from an emulated machine** "
      "(qemu TCG, no KVM) and predicts nothing about real hardware. **The ratios between "
      "methods, measured in the same run on the same emulated machine, are the result.** "
      "One run, no repetitions: differences of a few percent are noise.\n")
    w("## How this was measured\n")
    w(f"- Reproduce with: `{a.command}` (this report: profile `{doc['mode']}`).")
    w(f"- Guest: Debian kernel {doc['kernel']}, {m['cpus']} vCPUs, {m['mem_mib']} MiB, qemu TCG"
      f"{', virtual clock -icount ' + m['icount'] if m.get('icount') else ', host clock'}"
      f"{'; ' + h['fallback'] if h.get('fallback') else ''}.")
    if h:
        w(f"- Host: {h.get('cpus')} CPUs, {h.get('qemu')}; load average {h.get('load_before')} before, "
          f"up to {h.get('load_max')} during the run, with up to {h.get('other_vms_max')} other VMs "
          f"(the host is shared){'; under -icount the guest figures do not depend on that load, only the wall time does' if m.get('icount') else ''}. "
          f"Wall time {fmt(h.get('wall_s'), '.0f')} s. Module md5 {h.get('module_md5')}, tree {h.get('source')}.")
    w("- Two hosts in one guest: network namespaces `src` and `dst` joined by a veth pair, both "
      "directions shaped by `tbf` (queue at most 20 ms) with `netem` delay for the round trip:")
    for l in links:
        r0 = next(r for r in mig if r["link"] == l)
        w(f"  - **{l}**: {r0['link_mbit']} Mbit/s, RTT {r0['rtt_ms']} ms.")
    if "wan" not in links:
        w("  - (The WAN profile, a tenth of the LAN's rate and RTT 20 ms, is part of the full profile, "
          "`bench/run-migrate --full`, not of this run.)")
    w("  The emulated push is bound by the AES-GCM sealing of every frame, at about 13-17 MiB/s "
      "with nothing else running (the chunk-size sweep below), so \"LAN\" runs at the fastest rate the "
      "push sustains with a workload beside it, not at 1 Gbit/s, and \"WAN\" at a tenth of it, as "
      "100 Mbit/s is to 1 Gbit/s. The queue is netem's, limited to 20 ms of the rate plus its delay line.")
    w(f"- Each run: a {int(p['disk_mib'])} MiB disk (sparse) whose first {int(p['foot_mib'])} MiB "
      "(the footprint) hold random data; no shared base image, so every chunk starts dirty and the "
      "footprint is the data that must move (zero chunks cross as zero runs). The workload (fio, "
      "`bench/workloads/*.fio`) works in its working set, the first quarter of the footprint. 64 KiB chunks.")
    w("- The VM is one fio process writing to `/dev/mapper/vm`, a dm-linear device over the source. "
      f"Timeline: {p['before_s']} s *before* (no migration: the baseline window), connect, *push* until "
      "the source is ready (precopy: at most 16 chunks left, `ready_chunks 16`), *pause* (`dmsetup suspend vm`: "
      "the VM's I/O waits), `handover`, `vm` reloaded onto the destination and resumed, *post-copy* "
      f"until the destination is complete, {p['after_s']} s *after*. The same fio process runs "
      "throughout; each I/O's latency is logged and assigned to the phase in which it completed.")
    w("- QEMU's mirror, as libvirt runs it for `--copy-storage-all`: the source's `qemu-storage-daemon` "
      "exports the image to the VM (`/dev/mapper/vm` over `/dev/nbd0`, the kernel NBD client on the "
      "daemon's unix socket) and runs `blockdev-mirror` (`sync: full`, copy mode background or "
      "write-blocking) to an NBD export of the destination's daemon across the link; once the job is "
      "ready the VM is paused, the job cancelled (a ready mirror then leaves a consistent copy) and the "
      "VM resumed on the destination's image. Its degradation is normalized against its own baseline: "
      "the *before* window on the same NBD stack.")
    w("- Bytes on the wire: the source's veth counters, both directions, TCP/IP headers included, "
      "from connect (or `blockdev-mirror`) to completion: the same measure for every method.\n")

    w("## Headline ratios\n")
    hl = headline(by, links, wls, doc)
    for item in hl:
        w(f"- {item}")
    w("")
    for l in links:
        w(f"## Migration matrix, {l} link\n")
        w("| workload | method | time (s) | vs ideal | push (s) | post-copy (s) | downtime (ms) | wire (MiB) | wire / must move | wire / disk | pulls | pull avg (ms) |")
        w("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for wl, pol, r in rows(by, l, wls):
            dst = r.get("dst", {})
            w(f"| {wl} | {LABEL[pol]} | {r['migration_s']:.1f} | {r['time_vs_ideal']:.2f}x | {r['push_s']:.1f}"
              f"{' (forced)' if r.get('forced_pause') else ''} | {r['postcopy_s']:.1f} | {r['downtime_ms']:.0f}"
              f"{' (' + '+'.join(map(str, r['downtime_split_ms'])) + ')' if 'downtime_split_ms' in r else ''} | "
              f"{r['wire_bytes'] / MIB:.1f} | {r['traffic_vs_must_move']:.2f} | {r['traffic_vs_disk']:.3f} | "
              f"{dst.get('pulls', '-')} | {fmt(dst.get('pull_avg_us', 0) / 1000 if dst else None, '.1f')} |")
        w(f"\nIdeal time: the footprint ({int(p['foot_mib'])} MiB) over the link's rate. Downtime: from the "
          "pause to the VM's resume on the destination, as the VM sees it, in parts: suspending `vm` (waiting "
          "for its I/O in flight) + `handover` (for the mirror: cancelling the job) + reloading `vm` onto the "
          "destination and resuming it; each part includes starting a `dmsetup` process under TCG.\n")
        w(f"### The workload during the migration, {l} link\n")
        w("Throughput and latency of the workload in each phase, against its no-migration baseline "
          "on the same stack (the *before* window, or a baseline run when the profile has one). "
          "Throughput is relative (1.00 = baseline); latency in ms (p50 / p99).\n")
        w("| workload | method | baseline IOPS | baseline p50/p99 | push | post-copy | after | p99 push | p99 post-copy | max stall (ms) |")
        w("|---|---|---|---|---|---|---|---|---|---|")
        for wl, pol, r in rows(by, l, wls):
            b = baseline_of(runs, r)
            ph = r["phases"]
            stall = max((ph[k]["max_ms"] or 0) for k in ("push", "handover", "postcopy", "after") if k in ph)
            w(f"| {wl} | {LABEL[pol]} | {fmt(b['iops'], '.0f')} | {fmt(b['p50_ms'], '.2f')} / {fmt(b['p99_ms'], '.2f')} | "
              + " | ".join(fmt(ratio(ph[k]["mib_s"], b["mib_s"])) if k in ph else "-"
                           for k in ("push", "postcopy", "after"))
              + f" | {fmt(ph['push']['p99_ms'], '.1f')} | {fmt(ph.get('postcopy', {}).get('p99_ms'), '.1f')} | {stall:.0f} |")
        w("")
        for r in runs:
            if r["kind"] == "scale-misses" and r["link"] == l:
                target = 2 * (r["rtt_ms"] + r["chunk_bytes"] / (r["link_mbit"] * 1e6 / 8) * 1000)
                w(f"**Destination read misses under full prefetch** ({l}): a {r['disk_bytes'] // MIB} MiB disk of "
                  f"random data handed over with every chunk missing (policy postcopy), then 4 KiB random "
                  f"reads all over it while the source prefetches at link speed: p50 {r['fio']['p50_ms']:.1f} ms, "
                  f"p99 {r['fio']['p99_ms']:.1f} ms ({r['fio']['ios']} reads, {r['pulls']} pulls, mean pull "
                  f"{r['pull_avg_us'] / 1000:.1f} ms). Target: p99 <= 2 x (RTT + chunk transfer) = {target:.1f} ms: "
                  f"**{ratio(r['fio']['p99_ms'], target):.2f}x the target**."
                  + "".join(f" The same reads with the prefetch {what}: p50 {r[k]['p50_ms']:.1f} ms, p99 "
                            f"{r[k]['p99_ms']:.1f} ms ({ratio(r[k]['p99_ms'], target):.2f}x the target)."
                            for k, what in (("fio_prefetch_idle", "held back (1 KiB/s)"),
                                            ("fio_prefetch_paced", "paced at 3/4 of the link's rate"))
                            if k in r) + "\n")
    plots = make_plots(by, links, wls, runs, a.plots)
    multi = [r for r in runs if r["kind"] == "multi"]
    if multi:
        w("## Many migrations at once\n")
        w("N migrations (policy hybrid, no workload, each a "
          f"{multi[0]['footprint_bytes'] // MIB} MiB random footprint on a disk four times that) "
          "start together over the one link. Utilization: bytes on the wire over the makespan, "
          "against the link's rate. Fairness: Jain's index over the migrations' throughputs "
          "(data / own completion time; 1 = perfectly fair).\n")
        w("| link | N | makespan (s) | aggregate data (MiB/s) | link utilization | Jain's index | per-migration time (s) |")
        w("|---|---|---|---|---|---|---|")
        for r in sorted(multi, key=lambda r: (r["link"], r["n"])):
            f = multi_figures(r)
            w(f"| {r['link']} | {r['n']} | {f['makespan_s']:.1f} | {f['aggregate_mib_s']:.2f} | {f['utilization']:.2f} | "
              f"{f['jain']:.3f} | {' '.join(format(x['seconds'], '.1f') for x in r['migrations'])} |")
        w("")
    sh = sorted((r for r in runs if r["kind"] == "scale-handover"), key=lambda r: (r["disk_bytes"], -r["missing"]))
    if sh:
        w("## Scale: handover and kernel memory vs. disk size\n")
        w("Sparse disks, 64 KiB chunks, policy postcopy with nothing pushed, unshaped link; either every "
          "chunk missing at handover (no shared base image: the largest map) or 16 (a shared base image, "
          "`start_clean`, and 16 chunks written since). Kernel memory: vmalloc and slab growth when "
          "both devices (source and destination) were created.\n")
        w("| disk | chunks | missing | source handover (ms) | destination switch (ms) | `handover` message (ms) | kernel memory, both devices (KiB) | documented (KiB) |")
        w("|---|---|---|---|---|---|---|---|")
        for r in sh:
            doc_kib = 2 * (r["chunks"] * 5 / 8) / 1024
            w(f"| {human(r['disk_bytes'])} | {r['chunks']} | {r['missing']} | {r['src_handover_us'] / 1000:.1f} | "
              f"{r['dst_handover_us'] / 1000:.2f} | {float(r['message_s']) * 1000:.0f} | "
              f"{(r['vmalloc_bytes'] + r['slab_bytes']) / 1024:.0f} | {doc_kib:.0f} |")
        w("\nDocumented: 5 bits per chunk per device (Documentation/hybridmig.rst, Memory use). "
          "Slab growth is noisy (other allocations in the guest land there too).\n")
    sc = sorted((r for r in runs if r["kind"] == "scale-chunk"), key=lambda r: r["chunk_bytes"])
    if sc:
        w("## Scale: push throughput vs. chunk size\n")
        w(f"The footprint ({sc[0]['data_bytes'] // MIB} MiB of random data, all dirty) pushed over the "
          "unshaped link, no workload.\n")
        w("| chunk | push (MiB/s) | wire bytes / data bytes | chunks sent |")
        w("|---|---|---|---|")
        for r in sc:
            w(f"| {r['chunk_bytes'] // 1024} KiB | {r['data_bytes'] / r['seconds'] / MIB:.2f} | "
              f"{r['tx_bytes'] / r['data_bytes']:.4f} | {r['sent_chunks']} |")
        w("")
    if plots:
        w("## Plots\n")
        for name, title in plots:
            w(f"![{title}]({rel}/{name})\n")
    if doc.get("failed_parts"):
        w("## Parts that failed\n")
        w("These parts of the run failed (see the guest's console log); their figures are missing: "
          + ", ".join(doc["failed_parts"]) + "\n")
    if doc.get("kernel_log_problems"):
        w("## Kernel log problems during the run\n")
        w("```\n" + "\n".join(doc["kernel_log_problems"][:20]) + "\n```\n")
    with open(a.md, "w") as f:
        f.write("\n".join(out))
    print("\n".join(hl))


def human(n):
    for unit, s in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20)):
        if n >= s:
            return f"{n / s:g} {unit}"
    return str(n)


def headline(by, links, wls, doc):
    """The issue's targets, each against what this run measured."""
    out = []
    for l in links:
        hy = lambda wl: by.get((l, "hybrid", wl))
        pc = by.get((l, "precopy", "hotspot"))
        if hy("hotspot") and pc:
            out.append(f"[{l}] hot-spot workload, pre-copy / hybrid: migration time "
                       f"**{pc['migration_s'] / hy('hotspot')['migration_s']:.2f}x**, traffic "
                       f"**{pc['wire_bytes'] / hy('hotspot')['wire_bytes']:.2f}x** (target: >= 10x each)")
        mod = [hy(wl) for wl in ("idle", "light", "mixed", "fsync") if hy(wl)]
        if mod:
            out.append(f"[{l}] hybrid migration time / (data that must move / link rate), moderate "
                       f"workloads: {', '.join(r['workload'] + ' ' + format(r['time_vs_ideal'], '.2f') + 'x' for r in mod)} "
                       "(target: <= 1.15x)")
        rs = [r for r in (hy(wl) for wl in wls) if r]
        if rs:
            parts = []
            for r in rs:
                b = r["phases"]["before"]
                parts.append(f"{r['workload']} {fmt(ratio(r['phases']['push']['mib_s'], b['mib_s']))}")
            out.append(f"[{l}] hybrid, source workload throughput during the push / baseline: "
                       f"{', '.join(parts)} (target: >= 0.90; idle reads 20 IOPS)")
            out.append(f"[{l}] hybrid handover downtime as the VM sees it (ms): "
                       f"{', '.join(r['workload'] + ' ' + format(r['downtime_ms'], '.0f') for r in rs)}; "
                       f"fence to acknowledgement on the source: "
                       f"{', '.join(format(r['src']['handover_us'] / 1000, '.1f') for r in rs)} (target: <= 50 ms)")
        for wl in ("hotspot", "mixed"):
            rs = [(p, by[(l, p, wl)]) for p in POLICIES if (l, p, wl) in by and p != "postcopy"]
            if rs:
                out.append(f"[{l}] {wl} workload while the data is copied (push, or the mirror job), "
                           "throughput / baseline and p99 latency: " + ", ".join(
                               f"{LABEL[p]} {fmt(ratio(r['phases']['push']['mib_s'], r['phases']['before']['mib_s']))}"
                               f" / {fmt(r['phases']['push']['p99_ms'], '.0f')} ms" for p, r in rs)
                           + f" (baseline p99 {fmt(rs[0][1]['phases']['before']['p99_ms'], '.1f')} ms on hybridmig's stack)")
        for peer in ("background", "write-blocking"):
            pairs = [(by.get((l, "hybrid", wl)), by.get((l, peer, wl))) for wl in wls]
            pairs = [(x, y) for x, y in pairs if x and y]
            if pairs:
                out.append(f"[{l}] QEMU mirror ({peer}) / hybrid, time and traffic per workload: "
                           + ", ".join(f"{x['workload']} {y['migration_s'] / x['migration_s']:.2f}x/"
                                       f"{y['wire_bytes'] / x['wire_bytes']:.2f}x" for x, y in pairs))
    return out


def make_plots(by, links, wls, runs, outdir):
    if not shutil.which("gnuplot"):
        print("migrate.py: no gnuplot: no plots", file=sys.stderr)
        return []
    made = []
    tmp = tempfile.mkdtemp()
    script = ["set terminal pngcairo size 900,480 font ',10'", "set grid ytics",
              "set style data histograms", "set style histogram clustered gap 1",
              "set style fill solid 0.8 border -1", "set key top left", "set xtics nomirror"]
    pols = [p for p in POLICIES if any((l, p, wl) in by for l in links for wl in wls)]

    def bars(name, title, ylabel, value, link):
        val = {(p, wl): value(by[(link, p, wl)]) if (link, p, wl) in by else None
               for p in pols for wl in wls}
        cols = [p for p in pols if any(val[(p, wl)] is not None for wl in wls)]
        if not cols:
            return
        dat = os.path.join(tmp, name + ".dat")
        with open(dat, "w") as f:
            f.write("workload " + " ".join(f'"{LABEL[p]}"' for p in cols) + "\n")
            for wl in wls:
                f.write(wl + " " + " ".join(fmt(val[(p, wl)], ".4f", "NaN") for p in cols) + "\n")
        script.extend([f"set output '{os.path.join(outdir, name)}'", f"set title '{title}'",
                       f"set ylabel '{ylabel}'", "set logscale y" if "log" in ylabel else "unset logscale y",
                       "plot " + ", ".join(f"'{dat}' using {i + 2}:xtic(1) title columnheader"
                                           for i in range(len(cols)))])
        made.append((name, title))

    for l in links:
        bars(f"time-{l}.png", f"Migration time, {l} link (emulated machine)", "seconds (log)",
             lambda r: r["migration_s"], l)
        bars(f"traffic-{l}.png", f"Bytes on the wire / data that must move, {l} link",
             "ratio (log)", lambda r: r["traffic_vs_must_move"], l)
        bars(f"workload-{l}.png", f"Workload throughput during the push (or mirror) / baseline, {l} link",
             "ratio", lambda r: ratio(r["phases"]["push"]["mib_s"], r["phases"]["before"]["mib_s"]), l)
    multi = sorted((r for r in runs if r["kind"] == "multi"), key=lambda r: r["n"])
    if multi:
        dat = os.path.join(tmp, "multi.dat")
        with open(dat, "w") as f:
            for r in multi:
                m = multi_figures(r)
                f.write(f"{r['n']} {m['utilization']} {m['jain']}\n")
        script.extend(["unset logscale y", "set style data linespoints",
                       f"set output '{os.path.join(outdir, 'multi.png')}'",
                       "set title 'N migrations at once over one link'", "set xlabel 'N'",
                       "set ylabel 'ratio'", "set yrange [0:1.1]",
                       f"plot '{dat}' using 1:2 title 'link utilization' lw 2, '' using 1:3 title \"Jain's index\" lw 2",
                       "set autoscale y", "unset xlabel"])
        made.append(("multi.png", "N migrations at once"))
    sh = sorted((r for r in runs if r["kind"] == "scale-handover"), key=lambda r: r["disk_bytes"])
    if sh:
        dat = os.path.join(tmp, "scale.dat")
        few = os.path.join(tmp, "scale-few.dat")
        with open(dat, "w") as f, open(few, "w") as g:
            for r in sh:
                (f if r["missing"] == r["chunks"] else g).write(
                    f"{r['disk_bytes'] / (1 << 30)} {r['src_handover_us'] / 1000} "
                    f"{(r['vmalloc_bytes'] + r['slab_bytes']) / MIB}\n")
        script.extend(["set style data linespoints", "set logscale x 2", "set logscale y",
                       f"set output '{os.path.join(outdir, 'scale.png')}'",
                       "set title 'Handover time and kernel memory vs. disk size'",
                       "set xlabel 'disk size (GiB)'", "set ylabel 'handover, fence to ack (ms)'",
                       "set y2label 'kernel memory, both devices (MiB)'", "set y2tics", "set logscale y2",
                       f"plot '{dat}' using 1:2 axes x1y1 title 'handover, all missing (ms)' lw 2, "
                       f"'{few}' using 1:2 axes x1y1 title 'handover, 16 missing (ms)' lw 2, "
                       f"'{dat}' using 1:3 axes x1y2 title 'memory (MiB)' lw 2",
                       "unset logscale x", "unset logscale y", "unset y2tics", "unset y2label",
                       "unset logscale y2", "unset xlabel"])
        made.append(("scale.png", "Handover and memory vs. disk size"))
    sc = sorted((r for r in runs if r["kind"] == "scale-chunk"), key=lambda r: r["chunk_bytes"])
    if sc:
        dat = os.path.join(tmp, "chunk.dat")
        with open(dat, "w") as f:
            for r in sc:
                f.write(f"{r['chunk_bytes'] // 1024} {r['data_bytes'] / r['seconds'] / MIB}\n")
        script.extend(["set style data linespoints", "set logscale x 2",
                       f"set output '{os.path.join(outdir, 'chunk.png')}'",
                       "set title 'Push throughput vs. chunk size (unshaped link, emulated machine)'",
                       "set xlabel 'chunk (KiB)'", "set ylabel 'MiB/s'",
                       f"plot '{dat}' using 1:2 title 'push' lw 2"])
        made.append(("chunk.png", "Push throughput vs. chunk size"))
    gp = os.path.join(tmp, "plots.gp")
    with open(gp, "w") as f:
        f.write("\n".join(script) + "\n")
    done = subprocess.run(["gnuplot", gp])
    shutil.rmtree(tmp)
    if done.returncode != 0:
        print("migrate.py: gnuplot failed: some plots are missing", file=sys.stderr)
    return [(n, t) for n, t in made if os.path.exists(os.path.join(outdir, n))]


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    cmd, args = sys.argv[1], sys.argv[2:]
    p = argparse.ArgumentParser(prog="migrate.py " + cmd)
    if cmd == "run":
        p.add_argument("--lat", required=True)
        p.add_argument("--fio", required=True)
        p.add_argument("--times", required=True)
        p.add_argument("--meta", nargs="+", required=True)
        run(p.parse_args(args))
    elif cmd == "fio-read":
        print(json.dumps(fio_read(args[0])))
    elif cmd == "line":
        with open(args[0]) as f:
            print(line(json.load(f)))
    elif cmd == "collect":
        p.add_argument("results")
        collect(p.parse_args(args).results)
    elif cmd == "finish":
        p.add_argument("path")
        add_host_args(p)
        finish(p.parse_args(args))
    elif cmd == "report":
        p.add_argument("path")
        p.add_argument("--md", required=True)
        p.add_argument("--plots", required=True)
        p.add_argument("--command", default="make bench")
        report(p.parse_args(args))
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
