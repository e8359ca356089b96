#!/usr/bin/python3
"""Turns the raw results of bench/run_bench.sh into report.md, report.json
and chart.png, every HTTP figure beside the ceiling measured in the same run.

  report.py --raw DIR --out DIR     write the three report files
  report.py --check DIR             validate DIR/report.json (exit 1 if not)

Raw files (in --raw): meta.json (the run's settings), mixes.json, one loadgen
result per run named <target>__<mix>.json or <target>__<mix>__open_<rate>.json
(target: daemon or constant), and storage_bench.json (Google Benchmark's JSON)
when the in-process benchmark ran.

Ratios: for each mix, the daemon's throughput divided by the constant
server's on the same mix (how much of the machine's HTTP ceiling the daemon
keeps), and the daemon's p50 over the constant server's p50.

Needs matplotlib (Debian: python3-matplotlib).
"""
import argparse
import glob
import json
import math
import os
import re
import sys

PCTS = ["p50", "p90", "p99", "p99_9", "max"]
PCT_LABEL = {"p50": "p50", "p90": "p90", "p99": "p99", "p99_9": "p99.9",
             "max": "max"}
MIX_ORDER = ["healthz", "check_hit", "check_miss", "check_deep",
             "check_override", "check_condition", "batch_10", "batch_100",
             "actions", "lookup_small", "lookup_large", "authzen_evaluation"]
RAW_NAME = re.compile(
    r"^(daemon|constant)__([a-z0-9_]+?)(?:__open_([0-9.]+))?\.json$")


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def summarize(run):
    """The figures of one loadgen result that the report uses."""
    lat = run["latency_ns"]
    return {
        "throughput_rps": run["ok_rps"],
        "decisions_per_s": run["decisions_per_s"],
        "errors": run["errors"],
        "errors_by_kind": run["errors_by_kind"],
        "unsent": run["unsent"],
        "count": lat["count"],
        "latency_us": {p: lat[p] / 1000.0 for p in PCTS},
        "service_time_us": {p: run["service_time_ns"][p] / 1000.0
                            for p in PCTS},
    }


def ratio(a, b):
    if a is None or b is None or not b:
        return None
    return a / b


def build(raw_dir):
    meta = load_json(os.path.join(raw_dir, "meta.json"))
    mixes_meta = {}
    if os.path.exists(os.path.join(raw_dir, "mixes.json")):
        mixes_meta = load_json(os.path.join(raw_dir, "mixes.json"))
    closed = {"daemon": {}, "constant": {}}
    open_loop = []
    for path in sorted(glob.glob(os.path.join(raw_dir, "*.json"))):
        m = RAW_NAME.match(os.path.basename(path))
        if not m:
            continue
        target, mix, rate = m.groups()
        run = load_json(path)
        s = summarize(run)
        if rate is None:
            closed[target][mix] = s
        else:
            s.update({"target": target, "mix": mix,
                      "offered_rps": run["offered_rps"]})
            open_loop.append(s)
    open_loop.sort(key=lambda r: (r["target"], r["offered_rps"]))

    names = [m for m in MIX_ORDER
             if m in closed["daemon"] or m in closed["constant"]]
    names += sorted((set(closed["daemon"]) | set(closed["constant"])) -
                    set(names))
    mixes = []
    for name in names:
        d = closed["daemon"].get(name)
        c = closed["constant"].get(name)
        mixes.append({
            "name": name, "daemon": d, "constant": c,
            "throughput_ratio": ratio(d and d["throughput_rps"],
                                      c and c["throughput_rps"]),
            "p50_ratio": ratio(d and d["latency_us"]["p50"],
                               c and c["latency_us"]["p50"]),
        })

    # In process: storage_bench's Latency/<mix>/<data> runs (per-check
    # percentiles in counters) and its store figures.
    engine = []
    lookups = []
    store = None
    engine_path = os.path.join(raw_dir, "storage_bench.json")
    if os.path.exists(engine_path):
        for b in load_json(engine_path).get("benchmarks", []):
            if b.get("run_type", "iteration") != "iteration":
                continue
            if b.get("error_occurred"):
                continue
            if b["name"].startswith("BM_OpenToFirstCheck"):
                store = {k: b[k] for k in (
                    "records", "resources", "bindings", "store_MiB",
                    "bytes_per_binding", "import_records_per_s",
                    "open_to_first_check_us", "rss_growth_KiB",
                    "memory_data_MiB") if k in b}
                continue
            if b["name"].startswith("Lookup/"):
                unit = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[
                    b.get("time_unit", "ns")]
                lookups.append({"name": b["name"],
                                "ms": b["real_time"] * unit,
                                "results": b.get("results_per_lookup"),
                                "iterations": b["iterations"]})
                continue
            if "p50_ns" not in b:
                continue
            engine.append({"name": b["name"], "p50_ns": b["p50_ns"],
                           "p99_ns": b["p99_ns"], "p99_9_ns": b["p999_ns"],
                           "iterations": b["iterations"]})
        if store and "import_records_per_s" not in store and \
                meta.get("import_ms") and store.get("records"):
            # The store was the daemon's, imported by `portcullis import`.
            store["import_records_per_s"] = (
                store["records"] / (meta["import_ms"] / 1000.0))
        base = next((e for e in engine if e["name"] == "Latency/hit/memory"),
                    None)
        for e in engine:
            e["p50_ratio"] = ratio(e["p50_ns"], base and base["p50_ns"])
    lmdb = [e for e in engine if e["name"].endswith("/lmdb")]
    large_lookup = next(
        (l for l in lookups if l["name"] == "Lookup/large/lmdb"), None)

    healthz = closed["daemon"].get("healthz")
    hit = closed["daemon"].get("check_hit")
    hit_c = closed["constant"].get("check_hit")
    batch = closed["daemon"].get("batch_100")
    half = None
    if hit and open_loop:
        runs = [r for r in open_loop if r["target"] == "daemon"]
        if runs:
            half = min(runs, key=lambda r: abs(
                r["offered_rps"] - hit["throughput_rps"] / 2))
    targets = [
        {"target": "in process (LMDB), worst mix: p50 <= 300 ns",
         "measured": max(e["p50_ns"] for e in lmdb) if lmdb else None,
         "unit": "ns", "goal": 300.0, "higher_is_better": False},
        {"target": "in process (LMDB), worst mix: p99 <= 2 us",
         "measured": max(e["p99_ns"] for e in lmdb) if lmdb else None,
         "unit": "ns", "goal": 2000.0, "higher_is_better": False},
        {"target": "single checks: throughput >= 60% of the constant server",
         "measured": ratio(hit and hit["throughput_rps"],
                           hit_c and hit_c["throughput_rps"]),
         "unit": "ratio", "goal": 0.6, "higher_is_better": True},
        {"target": "single checks: p99 <= 1 ms at half the maximum",
         "measured": half and half["latency_us"]["p99"] / 1000.0,
         "unit": "ms", "goal": 1.0, "higher_is_better": False},
        {"target": "batches of 100: >= 1,000,000 decisions/s",
         "measured": batch and batch["decisions_per_s"],
         "unit": "decisions/s", "goal": 1e6, "higher_is_better": True},
        {"target": "lookup of up to 10,000 resources (lookup_large, "
                   "in process, mean): <= 20 ms",
         "measured": large_lookup and large_lookup["ms"],
         "unit": "ms", "goal": 20.0, "higher_is_better": False},
        {"target": "start to first answered check <= 1 s",
         "measured": meta.get("start_to_first_check_ms") and
         meta["start_to_first_check_ms"] / 1000.0,
         "unit": "s", "goal": 1.0, "higher_is_better": False},
    ]
    for t in targets:
        if t["measured"] is None:
            t["met"] = None
        elif t["higher_is_better"]:
            t["met"] = t["measured"] >= t["goal"]
        else:
            t["met"] = t["measured"] <= t["goal"]
    return {"meta": meta, "mixes_meta": mixes_meta,
            "ceiling": {"daemon_healthz": healthz,
                        "constant_check_hit": hit_c},
            "mixes": mixes, "open_loop": open_loop, "engine": engine,
            "store": store, "lookups": lookups,
            "targets": targets}


def fmt(v, digits=1):
    if v is None:
        return "–"
    if abs(v) >= 1000:
        return "{:,.0f}".format(v)
    return "{:.{}f}".format(v, digits)


def markdown(rep):
    meta = rep["meta"]
    mach = meta["machine"]
    out = []
    out.append("# Portcullis benchmark: scale %s\n" % meta["scale"])
    out.append("- Commit: `%s`, %s" % (meta["commit"], meta["date"]))
    out.append("- Machine: %s, %d CPUs, %.1f GB, Linux %s" % (
        mach["cpu"] or "unknown CPU", mach["cpus"], mach["memory_gb"],
        mach["kernel"]))
    out.append("- Command: `%s`" % meta["command"])
    out.append("- Runs: %.1f s measured after %.1f s warm-up, %d keep-alive "
               "connections, %d server threads%s, %d load thread(s)%s" % (
                   meta["duration_s"], meta["warmup_s"], meta["connections"],
                   meta["server_threads"],
                   " on CPUs " + meta["server_cpus"]
                   if meta["server_cpus"] else "",
                   meta["load_threads"],
                   " on CPUs " + meta["load_cpus"]
                   if meta["load_cpus"] else " (unpinned)"))
    out.append("- Daemon: %s" % meta["daemon"])
    if meta.get("start_to_first_check_ms") is not None:
        out.append("- Start to first answered check: %.0f ms" %
                   meta["start_to_first_check_ms"])
    if meta.get("import_ms") is not None:
        out.append("- Import: %.1f s" % (meta["import_ms"] / 1000.0))
    synthetic = rep["mixes_meta"].get("synthetic_kinds")
    if synthetic:
        out.append("- Synthetic entities (no refs from the data generator) "
                   "for: %s" % ", ".join(synthetic))
    out.append("")

    out.append("## Closed loop (maximum throughput), latency in µs\n")
    out.append("| mix | target | req/s | decisions/s | p50 | p90 | p99 | "
               "p99.9 | max | errors | req/s ÷ ceiling |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for m in rep["mixes"]:
        for target in ("daemon", "constant"):
            s = m[target]
            if not s:
                continue
            lat = s["latency_us"]
            r = m["throughput_ratio"] if target == "daemon" else None
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %s |"
                       % (m["name"], "daemon" if target == "daemon"
                          else "constant server",
                          fmt(s["throughput_rps"], 0),
                          fmt(s["decisions_per_s"], 0),
                          fmt(lat["p50"]), fmt(lat["p90"]), fmt(lat["p99"]),
                          fmt(lat["p99_9"]), fmt(lat["max"]), s["errors"],
                          "%.2f" % r if r is not None else "–"))
    out.append("")

    if rep["open_loop"]:
        out.append("## Open loop (latency from the scheduled send), "
                   "check_hit, latency in µs\n")
        out.append("| target | offered/s | achieved/s | p50 | p90 | p99 | "
                   "p99.9 | max | unsent | errors |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in rep["open_loop"]:
            lat = r["latency_us"]
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %d | %d |" % (
                r["target"], fmt(r["offered_rps"], 0),
                fmt(r["throughput_rps"], 0), fmt(lat["p50"]), fmt(lat["p90"]),
                fmt(lat["p99"]), fmt(lat["p99_9"]), fmt(lat["max"]),
                r["unsent"], r["errors"]))
        out.append("")

    out.append("## In process (bench/storage_bench, no HTTP)\n")
    if rep["engine"]:
        out.append("Per check, each timed on its own; over LMDB each check "
                   "opens and releases its read view as a request does. "
                   "Ratio: p50 against `Latency/hit/memory` in this run.\n")
        out.append("| benchmark | p50 ns | p99 ns | p99.9 ns | p50 ratio |")
        out.append("|---|---:|---:|---:|---:|")
        for b in rep["engine"]:
            out.append("| %s | %s | %s | %s | %s |" % (
                b["name"], fmt(b["p50_ns"], 0), fmt(b["p99_ns"], 0),
                fmt(b["p99_9_ns"], 0), fmt(b["p50_ratio"], 2)))
        out.append("")
    else:
        out.append("Not run (bench/storage_bench is not built).\n")
    if rep.get("lookups"):
        out.append("| lookup (LookupResources over LMDB, one page of up to "
                   "10,000) | mean ms | results |")
        out.append("|---|---:|---:|")
        for l in rep["lookups"]:
            out.append("| %s | %s | %s |" % (
                l["name"], fmt(l["ms"], 2), fmt(l["results"], 0)))
        out.append("")
    st = rep.get("store")
    if st:
        out.append("| data set and store | |")
        out.append("|---|---:|")
        for key, label in (
                ("records", "records"), ("resources", "resources"),
                ("bindings", "bindings"), ("store_MiB", "store (MiB)"),
                ("bytes_per_binding", "bytes on disk per binding"),
                ("import_records_per_s", "import (records/s)"),
                ("open_to_first_check_us",
                 "open to first check, in process (us)"),
                ("rss_growth_KiB", "RSS growth on open (KiB)"),
                ("memory_data_MiB", "in-memory copy (MiB, for comparison)")):
            if key in st:
                out.append("| %s | %s |" % (label, fmt(st[key], 0)))
        out.append("")

    out.append("## Targets (reported, not asserted)\n")
    out.append("| target | measured | met |")
    out.append("|---|---:|---|")
    for t in rep["targets"]:
        out.append("| %s | %s | %s |" % (
            t["target"],
            "–" if t["measured"] is None else "%s %s" % (
                fmt(t["measured"], 3), t["unit"]),
            {None: "not measured", True: "yes", False: "**no**"}[t["met"]]))
    out.append("")
    out.append("![latency and throughput](chart.png)")
    return "\n".join(out) + "\n"


def chart(rep, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, 5.5),
                                   gridspec_kw={"width_ratios": [3, 2]})
    names = [m["name"] for m in rep["mixes"]]
    main = "daemon" if any(m["daemon"] for m in rep["mixes"]) else "constant"
    pcts = ["p50", "p90", "p99", "p99_9"]
    width = 0.8 / len(pcts)
    for i, p in enumerate(pcts):
        xs, ys = [], []
        for j, m in enumerate(rep["mixes"]):
            s = m[main]
            if s:
                xs.append(j + (i - (len(pcts) - 1) / 2) * width)
                ys.append(max(s["latency_us"][p], 0.01))
        ax1.bar(xs, ys, width, label=PCT_LABEL[p])
    if main == "daemon":
        xs = [j for j, m in enumerate(rep["mixes"]) if m["constant"]]
        ys = [m["constant"]["latency_us"]["p50"] for m in rep["mixes"]
              if m["constant"]]
        ax1.plot(xs, ys, "k_", markersize=18, mew=2,
                 label="constant server p50 (ceiling)")
    ax1.set_yscale("log")
    ax1.set_xticks(range(len(names)))
    ax1.set_xticklabels(names, rotation=35, ha="right")
    ax1.set_ylabel("latency (µs, log scale)")
    ax1.set_title("Closed loop latency per mix (%s)" % (
        "daemon" if main == "daemon" else "constant server"))
    ax1.legend(fontsize=8)
    ax1.grid(axis="y", which="both", alpha=0.3)

    runs = [r for r in rep["open_loop"] if r["target"] == main]
    if runs:
        offered = [r["offered_rps"] for r in runs]
        ax2.plot(offered, [r["throughput_rps"] for r in runs], "o-",
                 label="achieved req/s")
        ax2.plot(offered, offered, ":", color="gray", label="offered")
        ax2.set_xlabel("offered rate (req/s), check_hit")
        ax2.set_ylabel("achieved req/s")
        ax3 = ax2.twinx()
        for p, style in (("p50", "s--"), ("p99", "^--"), ("p99_9", "v--")):
            ax3.plot(offered, [max(r["latency_us"][p], 0.01) for r in runs],
                     style, label=PCT_LABEL[p] + " latency")
        ax3.set_yscale("log")
        ax3.set_ylabel("latency from scheduled send (µs, log)")
        h1, l1 = ax2.get_legend_handles_labels()
        h2, l2 = ax3.get_legend_handles_labels()
        ax2.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper left")
        ax2.set_title("Open loop: throughput and latency vs offered rate")
        ax2.grid(alpha=0.3)
    else:
        ax2.text(0.5, 0.5, "no open-loop runs", ha="center", va="center")
        ax2.set_axis_off()
    meta = rep["meta"]
    fig.suptitle("Portcullis, scale %s, commit %s, %d CPUs" % (
        meta["scale"], meta["commit"], meta["machine"]["cpus"]))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def check(out_dir):
    """Validates a report: the files exist, every figure is a finite number,
    percentiles are ordered, each closed-loop run made progress."""
    problems = []
    for f in ("report.md", "report.json", "chart.png"):
        p = os.path.join(out_dir, f)
        if not os.path.exists(p) or os.path.getsize(p) == 0:
            problems.append("missing or empty: " + f)
    if problems:
        return problems
    with open(os.path.join(out_dir, "chart.png"), "rb") as f:
        if f.read(8) != b"\x89PNG\r\n\x1a\n":
            problems.append("chart.png is not a PNG")
    rep = load_json(os.path.join(out_dir, "report.json"))
    runs = []
    for m in rep["mixes"]:
        for target in ("daemon", "constant"):
            if m[target]:
                runs.append(("%s/%s" % (target, m["name"]), m[target], True))
    for r in rep["open_loop"]:
        runs.append(("open/%s" % r["offered_rps"], r, False))
    if not any(m["constant"] for m in rep["mixes"]):
        problems.append("no constant-server run")
    for label, s, closed in runs:
        lat = s["latency_us"]
        values = [s["throughput_rps"], s["decisions_per_s"]] + [
            lat[p] for p in PCTS]
        if not all(isinstance(v, (int, float)) and math.isfinite(v) and v >= 0
                   for v in values):
            problems.append("%s: a figure is not a finite number" % label)
            continue
        if any(lat[a] > lat[b] for a, b in zip(PCTS, PCTS[1:])):
            problems.append("%s: percentiles out of order %s" % (label, lat))
        if closed and (s["throughput_rps"] <= 0 or s["count"] == 0):
            problems.append("%s: no successful request" % label)
        if s["errors"]:
            problems.append("%s: %d errors %s" % (
                label, s["errors"], s["errors_by_kind"]))
    for e in rep.get("engine") or []:
        values = [e["p50_ns"], e["p99_ns"], e["p99_9_ns"]]
        if not all(isinstance(v, (int, float)) and math.isfinite(v) and v >= 0
                   for v in values):
            problems.append("%s: a figure is not a finite number" % e["name"])
        elif not values[0] <= values[1] <= values[2]:
            problems.append("%s: percentiles out of order" % e["name"])
    md = open(os.path.join(out_dir, "report.md"), encoding="utf-8").read()
    if "| mix |" not in md:
        problems.append("report.md has no results table")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--raw", help="folder of raw results")
    ap.add_argument("--out", help="folder for report.md/json and chart.png")
    ap.add_argument("--check", metavar="DIR", help="validate a report folder")
    args = ap.parse_args()
    if args.check:
        problems = check(args.check)
        for p in problems:
            print("report check: " + p, file=sys.stderr)
        print("report check: %s" % ("FAILED" if problems else "ok"))
        sys.exit(1 if problems else 0)
    if not args.raw or not args.out:
        ap.error("--raw and --out are required (or --check DIR)")
    rep = build(args.raw)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(rep, f, indent=1)
    with open(os.path.join(args.out, "report.md"), "w") as f:
        f.write(markdown(rep))
    chart(rep, os.path.join(args.out, "chart.png"))


if __name__ == "__main__":
    main()
