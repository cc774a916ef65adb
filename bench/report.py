#!/usr/bin/env python3
"""Turns simdrop_bench's JSON (and the PyTorch peer's) into the benchmark report.

Reads:
  --gbench  the Google Benchmark JSON of simdrop_bench (--benchmark_format=json or
            --benchmark_out=...); with --benchmark_repetitions=N the "median"
            aggregate of each row is used, else the row itself
  --peer    bench/peers/torch_dropout.py's JSON (optional; missing or empty is fine)
  --python  bench/peers/simdrop_python.py's JSON (optional): the Python and PyTorch
            rows, a section of their own; with --python-only, only that section is
            printed (and written to --out-dir/python.md), without --gbench
Writes into --out-dir:
  report.md       per size: simdrop's best row and its Philox 32-bit rows, the
                  naive loops, PyTorch and the copy roof, with G elements/s, GB/s,
                  the fraction of the roof and the ratios to naive loop (a) and to
                  PyTorch; then every forward row, the other calls, the roof itself
  throughput.png  throughput against size per implementation and generator, with
                  the copy roof drawn in
and prints the per-size tables. Every number comes from the two JSON files; the
machine description comes from lscpu at report time.
"""
import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import noise  # noqa: E402  (bench/peers/noise.py: spreads, load records, suspect rows)

ROOF_VARIANTS = ("memcpy", "stream")


# ---------------------------------------------------------------- reading

def parse_name(name):
    """'forward/avx512/philox/32bit/n:4096/omp:1/real_time' -> (['forward', 'avx512', ...], 4096, 1)."""
    fields, n, threads = [], None, None
    for field in name.split("/"):
        if field.startswith("n:"):
            n = int(field[2:])
        elif field.startswith("omp:"):
            threads = int(field[4:])
        elif field in ("real_time", "process_time", "manual_time") or field.startswith(("repeats:", "min_time:")):
            continue
        else:
            fields.append(field)
    return fields, n, threads


class Row:
    def __init__(self, fields, n, threads, eps, gbps, source):
        self.fields = fields
        self.call = fields[0] if fields else ""
        self.n = n
        self.threads = threads
        self.eps = eps    # elements per second
        self.gbps = gbps  # GB/s as the row counts its bytes
        self.source = source
        self.roof_fraction = None
        self.paired_fraction = None  # median of the per-repetition ratios to the copy timed beside it
        self.cv = None    # coefficient of variation of the time over repetitions, when known
        self.spread = None  # (min, median, max, (max - min) / median) of elements/s over repetitions
        self.flags = []     # "noisy", "roof" (bench/peers/noise.py, classify)
        self.attempts = None  # re-measure history (noise.py suite), when the row was re-measured
        self.run_name = None

    @property
    def key(self):
        return "/".join(self.fields)


def load_gbench(path):
    with open(path) as f:
        document = json.load(f)
    grouped = {}
    errors = []
    for entry in document.get("benchmarks", []):
        name = entry.get("run_name", entry.get("name", ""))
        if entry.get("error_occurred"):
            errors.append((name, entry.get("error_message", "")))
            continue
        group = grouped.setdefault(name, {"median": None, "cv": None, "runs": []})
        if entry.get("run_type") == "aggregate":
            if entry.get("aggregate_name") in ("median", "cv"):
                group[entry["aggregate_name"]] = entry
        else:
            group["runs"].append(entry)
    flags, _ = noise.gbench_classify(document.get("benchmarks", []))
    remeasure = document.get("simdrop_remeasure", {})
    rows = []
    for name, group in grouped.items():
        fields, n, threads = parse_name(name)
        if n is None or threads is None:
            continue
        if group["median"] is not None:
            eps, gbps = group["median"].get("elements_per_second"), group["median"].get("GB_per_second")
            source = "median of %d" % group["median"].get("repetitions", 0)
        elif group["runs"]:
            eps = statistics.median(r.get("elements_per_second", 0.0) for r in group["runs"])
            gbps = statistics.median(r.get("GB_per_second", 0.0) for r in group["runs"])
            source = "1 run" if len(group["runs"]) == 1 else "median of %d" % len(group["runs"])
        else:
            continue
        if eps is None or gbps is None:
            continue
        row = Row(fields, n, threads, float(eps), float(gbps), source)
        row.run_name = name
        if group["median"] is not None:
            paired = group["median"].get("paired_roof_fraction")
        else:
            pairs = [r["paired_roof_fraction"] for r in group["runs"] if "paired_roof_fraction" in r]
            paired = statistics.median(pairs) if pairs else None
        if paired is not None:
            row.paired_fraction = float(paired)
        if group["cv"] is not None and group["cv"].get("real_time") is not None:
            row.cv = float(group["cv"]["real_time"])
        rates = [r.get("elements_per_second") for r in group["runs"] if r.get("elements_per_second")]
        if len(rates) > 1:
            row.spread = noise.spread(rates)
        row.flags = flags.get(name, [])
        row.attempts = remeasure.get("attempts", {}).get(name)
        rows.append(row)
    return document.get("context", {}), rows, errors, document


def load_peer(path):
    if not path or not os.path.exists(path):
        return {}, [], "no PyTorch peer file (%s)" % (path or "not given")
    with open(path) as f:
        document = json.load(f)
    rows = []
    for r in document.get("rows", []):
        row = Row(["pytorch", "dropout"], int(r["n"]), int(r["threads"]), float(r["elements_per_second"]),
                  float(r["GB_per_second"]), "median of %d" % r.get("repeats", 0))
        if r.get("min_seconds_per_call") and r.get("max_seconds_per_call"):
            row.spread = noise.spread([r["n"] / r["max_seconds_per_call"], r["elements_per_second"],
                                       r["n"] / r["min_seconds_per_call"]])
        row.flags = list(r.get("flags", []))
        rows.append(row)
    return document.get("context", {}), rows, document.get("unavailable")


# Microarchitectures by (vendor, family, model), for the report's machine line.
AMD_ZEN = [  # family, first model, last model, name
    (0x17, 0x00, 0x2F, "Zen / Zen+"), (0x17, 0x30, 0xFF, "Zen 2"),
    (0x19, 0x00, 0x0F, "Zen 3"), (0x19, 0x20, 0x2F, "Zen 3"), (0x19, 0x40, 0x5F, "Zen 3"),
    (0x19, 0x10, 0x1F, "Zen 4"), (0x19, 0x60, 0x7F, "Zen 4"), (0x19, 0xA0, 0xAF, "Zen 4"),
    (0x1A, 0x00, 0xFF, "Zen 5"),
]
INTEL_FAMILY_6 = {
    0x55: "Skylake-SP / Cascade Lake", 0x6A: "Ice Lake-SP", 0x6C: "Ice Lake-D", 0x7D: "Ice Lake",
    0x7E: "Ice Lake", 0x8C: "Tiger Lake", 0x8D: "Tiger Lake", 0x8F: "Sapphire Rapids",
    0xCF: "Emerald Rapids", 0xAD: "Granite Rapids", 0xAE: "Granite Rapids", 0x97: "Alder Lake",
    0x9A: "Alder Lake", 0xB7: "Raptor Lake", 0xBA: "Raptor Lake", 0xBF: "Raptor Lake",
    0xAA: "Meteor Lake", 0xAC: "Meteor Lake", 0xC5: "Arrow Lake", 0xC6: "Arrow Lake",
    0xBD: "Lunar Lake", 0x8E: "Kaby / Coffee / Whiskey Lake", 0x9E: "Kaby / Coffee Lake",
    0xA5: "Comet Lake", 0xA6: "Comet Lake", 0x4E: "Skylake", 0x5E: "Skylake", 0xA7: "Rocket Lake",
}
# Flags a reported microarchitecture cannot have: a hypervisor's made-up model number shows this way.
NEWER_THAN_REPORTED = (("amx_tile", "Sapphire Rapids or later"), ("avx512_fp16", "Sapphire Rapids or later"))
OLDER_THAN_AMX = {"Skylake-SP / Cascade Lake", "Ice Lake-SP", "Ice Lake-D", "Ice Lake", "Tiger Lake",
                  "Rocket Lake", "Comet Lake", "Skylake", "Kaby / Coffee / Whiskey Lake", "Kaby / Coffee Lake"}


def cpu_identity():
    """(vendor, family, model, microarchitecture) from /proc/cpuinfo; 'unknown' where not known. Under a
    hypervisor whose reported model contradicts the CPU flags, the microarchitecture says so."""
    vendor, family, model, flags = "unknown", None, None, set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "vendor_id" and vendor == "unknown":
                    vendor = value
                elif key == "cpu family" and family is None:
                    family = int(value)
                elif key == "model" and model is None:
                    model = int(value)
                elif key == "flags" and not flags:
                    flags = set(value.split())
    except (OSError, ValueError):
        pass
    arch = "unknown"
    if vendor == "AuthenticAMD" and family is not None and model is not None:
        for f, lo, hi, name in AMD_ZEN:
            if family == f and lo <= model <= hi:
                arch = name
                break
    elif vendor == "GenuineIntel" and family == 6 and model is not None:
        arch = INTEL_FAMILY_6.get(model, "unknown")
    if arch in OLDER_THAN_AMX:
        for flag, newer in NEWER_THAN_REPORTED:
            if flag in flags:
                arch = "%s by its model number, but its %s flag is %s's" % (arch, flag, newer)
                break
    if "hypervisor" in flags:
        arch += " (a virtual machine: family and model are what the hypervisor reports)"
    return vendor, family, model, arch


def lscpu():
    info = {}
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return info
    for line in text.splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            info[key.strip()] = value.strip()
    return info


# ---------------------------------------------------------------- formatting

def size_label(n):
    for unit, scale in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= scale and n % scale == 0:
            return "%d%s" % (n // scale, unit)
    return str(n)


def bytes_label(b):
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if b >= scale:
            value = b / scale
            return ("%d %s" % (value, unit)) if value == int(value) else ("%.1f %s" % (value, unit))
    return "%d B" % b


def num(x, digits=3):
    """Three significant digits, no exponent for the range we see."""
    if x is None:
        return "–"
    if x == 0:
        return "0"
    magnitude = abs(x)
    if magnitude >= 100:
        return "%.0f" % x
    if magnitude >= 10:
        return "%.1f" % x
    if magnitude >= 1:
        return "%.2f" % x
    if magnitude >= 0.01:
        return "%.3f" % x
    return "%.2g" % x


def ratio(a, b):
    if a is None or b is None or b <= 0:
        return None
    return a / b


def describe(row):
    f = row.fields
    if row.call == "forward" and len(f) >= 4:
        return "simdrop %s %s %s" % (f[1], "Philox" if f[2] == "philox" else f[2], f[3].replace("bit", "-bit"))
    if row.call == "copy":
        return "copy roof: memcpy" if f[1:] == ["memcpy"] else "copy roof: streaming stores"
    if row.call == "naive":
        return "naive (a): mt19937, one pass" if f[1:] == ["mt19937_loop"] else "naive (b): two passes"
    if row.call == "pytorch":
        return "PyTorch F.dropout"
    return " ".join(f)


def markdown_table(header, lines):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(cells) + " |" for cells in lines]
    return "\n".join(out)


# ---------------------------------------------------------------- the report

class Results:
    def __init__(self, rows, peer_rows):
        self.rows = rows + peer_rows
        self.roof = {}
        for r in rows:
            if r.call == "copy" and len(r.fields) >= 2 and r.fields[1] in ROOF_VARIANTS:
                self.roof.setdefault((r.n, r.threads), {})[r.fields[1]] = r.gbps
        # A row's fraction of the roof is its paired one (the copy timed right
        # after each repetition, the median of the per-pair ratios) where the
        # row has it, else its GB/s over the faster copy row of the same size
        # and thread count (the copy rows themselves, and peers' rows).
        for r in self.rows:
            if r.paired_fraction is not None:
                r.roof_fraction = r.paired_fraction
                continue
            best = self.best_roof(r.n, r.threads)
            r.roof_fraction = r.gbps / best if best else None
        self.sizes = sorted({r.n for r in rows})
        self.threads = sorted({r.threads for r in rows})

    def best_roof(self, n, threads):
        variants = self.roof.get((n, threads), {})
        if not all(v in variants for v in ROOF_VARIANTS):
            return None
        return max(variants.values())

    def find(self, n, threads, *fields):
        for r in self.rows:
            if r.n == n and r.threads == threads and r.fields[:len(fields)] == list(fields):
                return r
        return None

    def forward_rows(self, n=None, threads=None):
        return [r for r in self.rows if r.call == "forward" and len(r.fields) >= 4
                and (n is None or r.n == n) and (threads is None or r.threads == threads)]

    def isas(self):
        seen = []
        for r in self.forward_rows():
            if r.fields[1] not in seen:
                seen.append(r.fields[1])
        return seen


def size_table(results, n):
    naive_a = results.find(n, 1, "naive", "mt19937_loop")
    lines = []
    for t in results.threads:
        torch_row = results.find(n, t, "pytorch", "dropout")
        candidates = []
        forward = results.forward_rows(n, t)
        if forward:
            best = max(forward, key=lambda r: r.eps)
            candidates.append(("**simdrop best**: " + describe(best)[len("simdrop "):], best))
            for isa in results.isas():
                r = results.find(n, t, "forward", isa, "philox", "32bit")
                if r is not None:
                    candidates.append((describe(r), r))
        if t == 1:
            candidates += [(describe(r), r) for r in (naive_a, results.find(n, 1, "naive", "two_pass")) if r]
        if torch_row is not None:
            candidates.append((describe(torch_row), torch_row))
        for variant in ROOF_VARIANTS:
            r = results.find(n, t, "copy", variant)
            if r is not None:
                candidates.append((describe(r), r))
        for label, r in candidates:
            lines.append([label + mark(r), str(t), num(r.eps / 1e9), spread_cell(r.spread), num(r.gbps),
                          num(r.roof_fraction), num(ratio(r.eps, naive_a.eps if naive_a else None)),
                          num(ratio(r.eps, torch_row.eps if torch_row else None)), notes(r)])
    header = ["row", "threads", "G elements/s", "min–max", "GB/s", "of roof", "× naive (a)", "× PyTorch", "notes"]
    return markdown_table(header, lines)


FLAG_WORDS = {"noisy": "noisy", "roof": "roof departs", "stall": "stalled"}


def mark(row):
    """' †' after a row that is flagged (noisy, or its roof departs from the neighbouring sizes')."""
    return " †" if row.flags else ""


def spread_cell(s):
    """'0.95–1.02' (min–max, G elements/s) of a spread, '–' without repetitions."""
    if not s:
        return "–"
    return "%s–%s" % (num(s[0] / 1e9), num(s[2] / 1e9))


def notes(row):
    """What the report knows about a row's noise: its flags and whether it was re-measured."""
    words = [FLAG_WORDS.get(f, f) for f in row.flags]
    if row.spread and not row.flags:
        words.append("±%.0f%%" % (50 * row.spread[3]))
    if row.attempts:
        kept = [h["round"] for h in row.attempts if h.get("kept")]
        words.append("re-measured %d×%s" % (len(row.attempts) - 1,
                                             ", kept attempt %d" % (kept[0] + 1) if kept else ""))
    return "; ".join(words) or "–"


def forward_matrix(results, threads):
    lines = []
    for isa in results.isas():
        for gen in ("philox", "xoshiro"):
            for width in ("32bit", "16bit", "8bit"):
                cells = []
                any_cell = False
                for n in results.sizes:
                    r = results.find(n, threads, "forward", isa, gen, width)
                    if r is None:
                        cells.append("–")
                    else:
                        any_cell = True
                        cells.append("%s (%s)%s" % (num(r.eps / 1e9), num(r.roof_fraction), mark(r)))
                if any_cell:
                    lines.append([describe(Row(["forward", isa, gen, width], 0, 0, 0, 0, ""))[len("simdrop "):]] + cells)
    header = ["implementation"] + [size_label(n) for n in results.sizes]
    return markdown_table(header, lines)


def other_calls_table(results):
    """Every row that is not a forward, naive, copy or PyTorch row: the extra calls of
    bench_simdrop.cpp and whatever other bench_*.cpp files add."""
    isas = results.isas()
    main_calls = ("forward", "naive", "copy", "pytorch")
    calls = []
    for r in results.rows:
        if r.call not in main_calls and r.call not in calls:
            calls.append(r.call)

    def order(r):
        isa = r.fields[1] if len(r.fields) > 1 else ""
        return (r.n, r.threads, calls.index(r.call), isas.index(isa) if isa in isas else len(isas), r.fields)

    lines = []
    for r in sorted((r for r in results.rows if r.call in calls), key=order):
        lines.append(["/".join(r.fields), size_label(r.n), str(r.threads), num(r.eps / 1e9), num(r.gbps),
                      num(r.roof_fraction)])
    if not lines:
        return None
    return markdown_table(["row", "n", "threads", "G elements/s", "GB/s", "of roof"], lines)


def roof_table(results):
    lines = []
    for n in results.sizes:
        for t in results.threads:
            v = results.roof.get((n, t), {})
            if not v:
                continue
            lines.append([size_label(n), str(t), num(v.get("memcpy")), num(v.get("stream")),
                          num(results.best_roof(n, t)), num((results.best_roof(n, t) or 0) / 8)])
    return markdown_table(["n", "threads", "memcpy GB/s", "streaming GB/s", "roof GB/s", "roof G elements/s"], lines)


def headline(results, auto_isa):
    """The figures the project tracks, computed from this run's rows."""
    out = []
    all_t = max(results.threads) if results.threads else 1
    n32 = 32 * 1024
    if n32 in results.sizes:
        naive_a = results.find(n32, 1, "naive", "mt19937_loop")
        torch1 = results.find(n32, 1, "pytorch", "dropout")
        forward = results.forward_rows(n32, 1)
        if forward and naive_a:
            best = max(forward, key=lambda r: r.eps)
            out.append("- 32K floats, 1 thread: fastest row (%s) %s G elements/s = %s× naive loop (a)."
                       % (describe(best)[len("simdrop "):], num(best.eps / 1e9), num(best.eps / naive_a.eps)))
        p32 = results.find(n32, 1, "forward", auto_isa, "philox", "32bit")
        if p32 and naive_a:
            text = "- 32K floats, 1 thread: %s Philox 32-bit %s G elements/s = %s× naive loop (a)" % (
                auto_isa, num(p32.eps / 1e9), num(p32.eps / naive_a.eps))
            if torch1:
                text += ", %s× PyTorch" % num(p32.eps / torch1.eps)
            out.append(text + ".")
        chain = [(isa, results.find(n32, 1, "forward", isa, "philox", "32bit")) for isa in results.isas()]
        chain = [(isa, r) for isa, r in chain if r]
        if len(chain) > 1:
            out.append("- 32K floats, 1 thread, Philox 32-bit: " + ", ".join(
                "%s %s× %s" % (a, num(ra.eps / rb.eps), b) for (a, ra), (b, rb) in zip(chain, chain[1:])) + ".")
    n64 = 64 << 20
    if n64 in results.sizes:
        for t in sorted({1, all_t}):
            rows = [r for r in results.forward_rows(n64, t) if r.fields[1] == auto_isa and r.roof_fraction]
            if rows:
                worst = min(rows, key=lambda r: r.roof_fraction)
                out.append("- 64M floats, %d thread%s: every %s generator and width at >= %s of the copy roof "
                           "(lowest: %s)." % (t, "" if t == 1 else "s", auto_isa, num(worst.roof_fraction),
                                              describe(worst)[len("simdrop "):]))
    n4 = 4 << 20
    if n4 in results.sizes and all_t > 1:
        scaling = []
        for r in results.forward_rows(n4, all_t):
            if r.fields[1] != auto_isa:
                continue
            one = results.find(n4, 1, *r.fields)
            if one:
                scaling.append((r.eps / one.eps, r))
        if scaling:
            low = min(scaling, key=lambda s: s[0])
            high = max(scaling, key=lambda s: s[0])
            out.append("- 4M floats, %d threads over 1: %s× to %s× for %s (lowest: %s)."
                       % (all_t, num(low[0]), num(high[0]), auto_isa, describe(low[1])[len("simdrop "):]))
    return out


def plot_points(ax, rows, style, color, marker, label, linewidth=1.5):
    """A line through rows' medians, error bars from min to max over the repetitions, and a hollow
    marker where a row is flagged (noisy, or its roof departs)."""
    pts = [(r.n, r.eps / 1e9) for r in rows]
    if not pts:
        return
    ax.plot(*zip(*pts), style, marker=marker, color=color, label=label, markersize=4, linewidth=linewidth)
    for r in rows:
        if r.spread:
            low, high = r.spread[0] / 1e9, r.spread[2] / 1e9
            ax.errorbar([r.n], [r.eps / 1e9], yerr=[[max(r.eps / 1e9 - low, 0)], [max(high - r.eps / 1e9, 0)]],
                        fmt="none", ecolor=color, elinewidth=1, capsize=2, alpha=0.8)
        if r.flags:
            ax.plot([r.n], [r.eps / 1e9], marker=marker, markersize=9, markerfacecolor="white",
                    markeredgecolor=color, markeredgewidth=1.5, linestyle="none", zorder=5)


def plot(results, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.lines import Line2D
    except ImportError as error:
        return "matplotlib is not installed (%s): no plot" % error
    colors = {"avx512": "tab:red", "avx2": "tab:blue", "neon": "tab:purple", "scalar": "tab:green"}
    markers = {"philox": "o", "xoshiro": "s"}
    panels = results.threads
    fig, axes = plt.subplots(1, len(panels), figsize=(7.5 * len(panels), 6), sharey=True, squeeze=False)
    for ax, t in zip(axes[0], panels):
        for isa in results.isas():
            for gen in ("philox", "xoshiro"):
                for width, style in (("32bit", "-"), ("16bit", "--"), ("8bit", "-.")):
                    rows = [r for n in results.sizes for r in [results.find(n, t, "forward", isa, gen, width)] if r]
                    plot_points(ax, rows, style, colors.get(isa, "tab:gray"), markers[gen],
                                "simdrop %s %s %s" % (isa, gen, width.replace("bit", "-bit")))
        for fields, label, style in ((("naive", "mt19937_loop"), "naive (a) mt19937 loop, 1 thread", ":"),
                                     (("naive", "two_pass"), "naive (b) two passes, 1 thread", "-."),
                                     (("pytorch", "dropout"), "PyTorch F.dropout", "-")):
            rows = [r for n in results.sizes for r in [results.find(n, 1 if fields[0] == "naive" else t, *fields)] if r]
            plot_points(ax, rows, style, "black" if fields[0] == "pytorch" else "dimgray", "^", label)
        roof = [(n, results.best_roof(n, t) / 8) for n in results.sizes if results.best_roof(n, t)]
        if roof:
            ax.plot(*zip(*roof), "-", color="goldenrod", linewidth=4, alpha=0.6,
                    label="copy roof (best of memcpy, streaming) in elements/s")
            for n, value in roof:
                copies = [results.find(n, t, "copy", v) for v in ROOF_VARIANTS]
                if any(c is not None and c.flags for c in copies):
                    ax.plot([n], [value], marker="D", markersize=9, markerfacecolor="white",
                            markeredgecolor="goldenrod", markeredgewidth=2, linestyle="none", zorder=5)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(results.sizes)
        ax.set_xticklabels([size_label(n) for n in results.sizes])
        ax.set_xlabel("floats per call")
        ax.set_title("%d thread%s" % (t, "" if t == 1 else "s"))
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("G elements/s (dropout forward, keep_prob 0.9)")
    handles, labels = axes[0][-1].get_legend_handles_labels()
    handles += [Line2D([], [], marker="o", markersize=9, markerfacecolor="white", markeredgecolor="black",
                       linestyle="none"),
                Line2D([], [], color="black", marker="|", markersize=10, linestyle="none")]
    labels += ["hollow: noisy (max - min > %d%% of the median), roof departs from the neighbouring sizes',\n"
               "or stalled (slower on several threads than on one: see \"Load and noise\")"
               % round(100 * noise.NOISY_SPREAD), "error bar: min to max over the repetitions"]
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return None


# ---------------------------------------------------------------- the Python rows

PYTHON_TARGETS = (
    # (group, n, dtype, minimum ratio to PyTorch, label)
    ("torch/forward_backward", 4 << 20, "float32", 20.0, "forward + backward at 4M float32"),
    ("torch/forward_backward", 64 << 10, "float32", 5.0, "forward + backward at 64K float32"),
)


def python_flags(rows):
    """The rows with their flags: the peers' own ("noisy"), and "stall" where a row on several threads
    is much slower than the same row on one (noise.stalled)."""
    rows = [dict(r, flags=list(r.get("flags", []))) for r in rows]
    index = {(r["group"], r["impl"], r["dtype"], r["n"], r["threads"]): r for r in rows}
    for r in rows:
        one = index.get((r["group"], r["impl"], r["dtype"], r["n"], 1))
        if r["threads"] > 1 and one and noise.stalled(r["seconds_per_call"], one["seconds_per_call"]):
            r["flags"].append("stall")
    return rows


def python_mark(row):
    return " †" if row.get("flags") else ""


def python_section(document):
    """Markdown lines for bench/peers/simdrop_python.py's rows (and torch213.py's of the same groups)."""
    rows = python_flags(document.get("rows", []))
    context = document.get("context", {})
    out = []
    if not rows:
        return ["No Python rows (%s)." % document.get("unavailable", "empty file")]

    def find(group, impl, dtype, n, threads):
        for r in rows:
            if (r["group"], r["impl"], r["dtype"], r["n"], r["threads"]) == (group, impl, dtype, n, threads):
                return r
        return None

    out.append("PyTorch %s, numpy %s, simdrop implementation %s; keep_prob %s (p = %g); medians of %s "
               "alternating rounds of at least %s s per contender; `%s`."
               % (context.get("torch_version", "?"), context.get("numpy_version", "?"),
                  context.get("simdrop_isa", "?"), context.get("keep_prob", "?"),
                  1.0 - float(context.get("keep_prob", 0.9)), context.get("repeats", "?"),
                  context.get("min_time", "?"), context.get("command", "?")))
    impls = [i for i in ("simdrop", "simdrop-xoshiro16") if any(r["impl"] == i for r in rows)]
    names = {"simdrop": "simdrop (Philox 32-bit)", "simdrop-xoshiro16": "simdrop (xoshiro 16-bit)"}
    for group, title in (("torch/forward", "Forward"), ("torch/forward_backward", "Forward + backward")):
        configs = sorted({(r["dtype"] != "float32", r["n"], r["dtype"], r["threads"]) for r in rows
                          if r["group"] == group})
        if not configs:
            continue
        lines = []
        for _, n, dtype, threads in configs:
            torch_row = find(group, "pytorch", dtype, n, threads)
            cells = [size_label(n), dtype, str(threads)]
            cells.append("%s (%s µs)%s" % (num(torch_row["elements_per_second"] / 1e9),
                                           num(torch_row["seconds_per_call"] * 1e6), python_mark(torch_row))
                         if torch_row else "–")
            for impl in impls:
                r = find(group, impl, dtype, n, threads)
                if r is None:
                    cells += ["–", "–"]
                    continue
                cells.append("%s (%s µs)%s" % (num(r["elements_per_second"] / 1e9), num(r["seconds_per_call"] * 1e6),
                                               python_mark(r)))
                cells.append(num(ratio(r["elements_per_second"], torch_row["elements_per_second"] if torch_row else None)))
            lines.append(cells)
        header = ["n", "dtype", "threads", "F.dropout G el/s (time)"]
        for impl in impls:
            header += [names[impl] + " G el/s (time)", "× PyTorch"]
        out += ["", "#### %s: `simdrop.torch.dropout` against `torch.nn.functional.dropout`" % title, "",
                markdown_table(header, lines)]
    numpy_rows = [r for r in rows if r["group"] == "numpy/dropout"]
    if numpy_rows:
        lines = []
        for threads in sorted({r["threads"] for r in numpy_rows}):
            n = max(r["n"] for r in numpy_rows)
            tutorial = find("numpy/dropout", "tutorial", "float32", n, threads)
            cells = [size_label(n), str(threads),
                     num(tutorial["elements_per_second"] / 1e9) + python_mark(tutorial) if tutorial else "–"]
            for impl in impls:
                ours = find("numpy/dropout", impl, "float32", n, threads)
                cells += [num(ours["elements_per_second"] / 1e9) + python_mark(ours) if ours else "–",
                          num(ratio(ours["elements_per_second"] if ours else None,
                                    tutorial["elements_per_second"] if tutorial else None))]
            lines.append(cells)
        header = ["n", "threads", "tutorial G el/s"]
        for impl in impls:
            header += [names[impl] + " G el/s", "× tutorial"]
        out += ["", "#### numpy: `simdrop.dropout(a, keep_prob, seed, out=a)` against the tutorial's three lines", "",
                "`d = np.random.rand(*a.shape) < keep_prob; a *= d; a /= keep_prob` (a float32, in place; the "
                "threads are simdrop's, numpy's random numbers are serial).", "",
                markdown_table(header, lines)]
    overhead = [r for r in rows if r["group"] == "overhead"]
    if overhead:
        out += ["", "#### Per-call overhead at 1 element (one thread)", "",
                markdown_table(["call", "µs per call"], [[("`%s`" % r["impl"]) if r["impl"] != "pytorch" else
                                                          "`torch.nn.functional.dropout`",
                                                          num(r["seconds_per_call"] * 1e6)] for r in overhead])]
    checks = []
    for group, n, dtype, minimum, label in PYTHON_TARGETS:
        for threads in sorted({r["threads"] for r in rows if r["group"] == group and r["n"] == n}):
            torch_row = find(group, "pytorch", dtype, n, threads)
            for impl in impls:
                r = find(group, impl, dtype, n, threads)
                if r and torch_row:
                    x = r["elements_per_second"] / torch_row["elements_per_second"]
                    checks.append("- %s, %d thread%s, %s: %s× PyTorch (target %s×): %s%s"
                                  % (label, threads, "" if threads == 1 else "s", names[impl], num(x), num(minimum),
                                     "met" if x >= minimum else "**not met**",
                                     " †" if r["flags"] or torch_row["flags"] else ""))
    for threads in sorted({r["threads"] for r in numpy_rows}):
        n = max(r["n"] for r in numpy_rows)
        tutorial = find("numpy/dropout", "tutorial", "float32", n, threads)
        for impl in impls:
            ours = find("numpy/dropout", impl, "float32", n, threads)
            if tutorial and ours:
                x = ours["elements_per_second"] / tutorial["elements_per_second"]
                checks.append("- numpy at %s, %d thread%s, %s: %s× the tutorial's lines (target 30×): %s%s"
                              % (size_label(n), threads, "" if threads == 1 else "s", names[impl], num(x),
                                 "met" if x >= 30 else "**not met**",
                                 " †" if ours["flags"] or tutorial["flags"] else ""))
    if checks:
        out += ["", "#### Targets", ""] + checks
    if any(r["flags"] for r in rows):
        out += ["", "† noisy (max − min over the rounds above %d%% of the median) or stalled (on several threads "
                "slower than %g× the one-thread time plus %g µs: the other core was not free)."
                % (round(100 * noise.NOISY_SPREAD), noise.STALL_FACTOR, noise.STALL_SLACK_S * 1e6)]
    return out


def load_table(records):
    lines = []
    for r in records:
        label = size_label(r["n"]) if "n" in r else "?"
        if r.get("dtype"):
            label += " " + r["dtype"]
        if r.get("allocator") == "warm":
            label += " (warm allocator)"
        lines.append([label, r.get("phase", "–"), "%.0f" % r.get("wall_s", 0),
                      "%s → %s" % ("%.2f" % r["loadavg_before"][0] if r.get("loadavg_before") else "?",
                                   "%.2f" % r["loadavg_after"][0] if r.get("loadavg_after") else "?"),
                      num(r.get("benchmark_cores")), num(r.get("others_cores")), num(r.get("others_niced_cores")),
                      num(r.get("steal_cores"))])
    return markdown_table(["size", "phase", "wall s", "load (1 min) before → after", "benchmark cores",
                           "other processes' cores", "niced processes' cores", "steal cores"], lines)


LOAD_WORDS = ("CPU time per wall second over the size's run, from /proc/stat: the benchmark's own (its process "
              "and children), other processes' at normal priority, niced processes' (a niced background job "
              "shows here: it yields to the benchmark, but still takes cache, memory bandwidth and, with as "
              "many threads as cores, time slices), and the hypervisor's steal.")


def noise_section(rows, document):
    """The load around each size, the rules that flag a row, the flagged rows and what re-measuring did."""
    out = ["", "## Load and noise", ""]
    records = document.get("simdrop_load", [])
    if records:
        out += ["The load before and after each size (simdrop_bench runs once per size). " + LOAD_WORDS, "",
                load_table(records), ""]
    else:
        out += ["(This JSON has no load records: it was not produced by bench/peers/noise.py.)", ""]
    remeasure = document.get("simdrop_remeasure", {})
    out.append("A row is flagged **noisy** when its repetitions spread by more than %d%% of the median (max − min), "
               "and **roof departs** when its copy roof (the copy timed right after each of its repetitions; for "
               "a copy row, its own GB/s) is below, or above, the same row's at both neighbouring sizes by more "
               "than %g× times %g× per cache level between them (L1d, L2, L3 or memory for the x and y buffers: "
               "caches %s), or below %g of its size's copy rows. A dip at the smallest size with several threads "
               "is not flagged (fork and join cost more than the copy there). A row on several threads is "
               "**stalled** when it, or its roof, takes more than %g× its one-thread time plus %g µs: a parallel "
               "region waited for a core that other work held. With one repetition a row has no spread, and "
               "only the roof and stall rules apply."
               % (round(100 * noise.NOISY_SPREAD), noise.ROOF_TOLERANCE, noise.LEVEL_FACTOR,
                  ", ".join("L%d %s%s" % (level, bytes_label(size), " shared by %d CPUs" % shared if shared > 1 else "")
                            for level, size, shared in (remeasure.get("caches") or noise.cache_levels())),
                  noise.PAIRED_ROOF_FLOOR, noise.STALL_FACTOR, noise.STALL_SLACK_S * 1e6))
    if remeasure:
        rounds = remeasure.get("rounds", [])
        out += ["", "Before this report, flagged rows were timed again: at most %d round(s) of at most %d rows; "
                "each keeps the better attempt (no roof departure first, then the smaller spread). %s"
                % (remeasure.get("retries", 0), remeasure.get("max_rows", 0),
                   "; ".join("round %d: %d row(s) re-measured, %d replaced"
                             % (r["round"], len(r["rows"]), len(r["kept"])) for r in rounds) or "Nothing was flagged.")]
    flagged = [r for r in rows if r.flags]
    if flagged:
        lines = []
        for r in sorted(flagged, key=lambda r: (r.n, r.threads, r.key)):
            history = "–"
            if r.attempts:
                history = ", ".join("%s%s" % (("±%.0f%%" % (50 * h["spread"][3])) if h.get("spread") else "1 run",
                                              " " + "+".join(h["flags"]) if h.get("flags") else "")
                                    + (" (kept)" if h.get("kept") else "") for h in r.attempts)
            lines.append(["`%s`" % r.key, size_label(r.n), str(r.threads),
                          ", ".join(FLAG_WORDS.get(f, f) for f in r.flags), spread_cell(r.spread), num(r.eps / 1e9),
                          history])
        out += ["", "%d of %d rows are still flagged:" % (len(flagged), len(rows)), "",
                markdown_table(["row", "n", "threads", "flags", "min–max G el/s", "median G el/s",
                                "attempts (spread, flags)"], lines)]
    else:
        out += ["", "No row is flagged."]
    return out


def python_sections(paths):
    """Markdown lines for the Python JSON files: simdrop_python.py's section over the rows of all of them
    (its tables and targets take torch213.py's rows of the same groups), then torch213.py's own."""
    if not paths:
        return None
    documents = []
    for path in paths:
        with open(path) as f:
            documents.append(json.load(f))
    legacy = [d for d in documents if d.get("producer") != "torch213.py"]
    newer = [d for d in documents if d.get("producer") == "torch213.py"]
    context = dict((legacy or newer)[0].get("context", {}))
    if newer:
        context["torch_version"] = newer[0].get("context", {}).get("torch_version", context.get("torch_version"))
    merged = {"context": context, "rows": [r for d in documents for r in d.get("rows", [])],
              "unavailable": "; ".join(d["unavailable"] for d in documents if d.get("unavailable"))}
    lines = python_section(merged)
    for document in newer:
        lines += torch213_section(document)
    return lines


TORCH213_IMPLS = (("pytorch", "F.dropout"), ("pytorch-compiled", "compiled F.dropout"),
                  ("simdrop", "simdrop.torch.dropout"), ("simdrop-xoshiro16", "dropout xoshiro 16-bit"),
                  ("simdrop-module", "simdrop Dropout module"), ("simdrop-compiled", "compiled Dropout module"))
TORCH213_GROUPS = (
    ("torch/forward", "Forward, out of place (allocation included)",
     "`y = f(x)`, x not requiring grad: every call allocates its output (F.dropout also its noise tensor and, "
     "inside bernoulli_, nothing more); at 64M that allocation is fresh pages (see the allocation table)."),
    ("torch/forward_inplace", "Forward, in place",
     "`f(x, inplace=True)`: x is overwritten, no output is allocated (F.dropout still allocates its noise "
     "tensor); x drifts over the calls (kept elements grow by 1/0.9, dropped ones stay 0), which costs "
     "nothing on this hardware."),
    ("torch/forward_backward", "Forward + backward, out of place (allocation included)",
     "`y = f(x); y.backward(g)`, x a leaf requiring grad, `x.grad = None` before each call: allocates y and "
     "the gradient (F.dropout: and its saved noise tensor; Inductor: its saved mask)."),
    ("torch/forward/warm-allocator", "Forward, out of place, warm allocator",
     "As the out-of-place forward, in a process with jemalloc preloaded and told to keep freed memory "
     "(`LD_PRELOAD=libjemalloc.so.2 MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1`): a tensor freed by one "
     "call is the next call's, its pages already mapped, so these are the same calls without the page faults "
     "of a fresh tensor: the dropout and not the allocator."),
    ("torch/forward_backward/warm-allocator", "Forward + backward, out of place, warm allocator",
     "As the out-of-place forward + backward, with the warm allocator."),
)
TORCH213_TARGET_N = 4 << 20


def torch213_rate(row):
    return row["n"] / row["seconds_per_call"]


def torch213_cell(row):
    if row is None:
        return "–"
    text = "%s [%s–%s]" % (num(torch213_rate(row) / 1e9), num(row["n"] / row["max_seconds_per_call"] / 1e9),
                           num(row["n"] / row["min_seconds_per_call"] / 1e9))
    return text + (" †" if row.get("flags") else "")


def torch213_section(document):
    """Markdown lines for bench/peers/torch213.py: torch 2.13 eager and compiled against simdrop's operators."""
    context = document.get("context", {})
    rows = python_flags(document.get("rows", []))
    index = {(r["group"], r["impl"], r["dtype"], r["n"], r["threads"]): r for r in rows}

    def find(group, impl, dtype, n, threads):
        return index.get((group, impl, dtype, n, threads))

    out = ["", "### torch %s: eager and `torch.compile`d, against simdrop's operators"
           % context.get("torch_version", "?"), "",
           "bench/peers/torch213.py (docs/bench-python.md says what each row measures). %s, `%s`; "
           "simdrop %s (implementation %s); keep_prob %s; medians of %s alternating rounds of at least %s s per "
           "contender, a row whose max − min exceeds %d%% of the median re-measured up to %s times."
           % (context.get("date", "?"), context.get("command", "?"), context.get("simdrop_version", "?"),
              context.get("simdrop_isa", "?"), context.get("keep_prob", "?"), context.get("repeats", "?"),
              context.get("min_time", "?"), round(100 * float(context.get("noisy_spread", noise.NOISY_SPREAD))),
              context.get("retries", "?"))]
    rng = context.get("torch_rng")
    if rng:
        out += ["", "**torch's CPU random numbers.** `torch.backends.mkl.is_available()` = %s. %s (ops of one "
                "F.dropout call: %s). bernoulli_ of 4M floats: %s ms on 1 thread, %s ms on 2%s."
                % (rng.get("mkl_available"), rng.get("path", "?"), ", ".join(rng.get("dropout_ops", [])) or "?",
                   num(rng.get("bernoulli_4M_seconds", {}).get("1", 0) * 1e3),
                   num(rng.get("bernoulli_4M_seconds", {}).get("2", 0) * 1e3),
                   " (serial: the second thread does not help)" if rng.get("generator_advances_per_element") else ""),
                "", "**Inductor's.** `torch.compile`d F.dropout is one fused OpenMP kernel; the lines of its "
                "generated code that make the random numbers: %s." % "; ".join("`%s`" % line for line in
                                                                               rng.get("inductor_random_lines", []))]
    probe = context.get("allocation_probe")
    if probe:
        lines = []
        for p in probe:
            call = "`np.empty_like(x).fill(1)`" if p["kind"] == "numpy" else "`torch.empty(2**26).fill_(1)`"
            lines.append([call, str(p["threads"]), " ".join("`%s=%s`" % kv for kv in p.get("env", {}).items()) or "–",
                          "%s [%s–%s]" % (num(p["seconds"] * 1e3), num(p["min_seconds"] * 1e3),
                                          num(p["max_seconds"] * 1e3)) if "seconds" in p else p.get("error", "?"),
                          num(p.get("minor_faults"))])
        out += ["", "**A fresh 256 MiB buffer** (2^26 floats, written once, freed, again: median [min–max] of %s "
                "after one warm-up, each case in a fresh process; transparent hugepages: `%s`):"
                % (probe[0].get("repeats", "?"), context.get("transparent_hugepage", "?")), "",
                markdown_table(["call", "threads", "environment", "ms per buffer", "minor page faults"], lines), "",
                "glibc serves a 256 MiB request with mmap and returns it with munmap when freed, so every "
                "tensor of that size is new memory, faulted in 4 KiB page by page as it is first written. numpy "
                "asks for transparent huge pages (madvise) on large arrays, so its fresh buffer takes 2 MiB "
                "faults (zeroing 2 MiB each); torch does so only with `THP_MEM_ALLOC_ENABLE=1`. glibc's tunables "
                "do not help: without mmap, torch's 64-byte aligned request does not fit the chunk the last one "
                "freed, and the heap grows by a fresh 256 MiB each time. jemalloc told to keep freed memory "
                "reuses it and takes no faults: that is how the \"warm allocator\" rows run%s."
                % ("" if "error" not in context.get("warm_allocator", {}) else
                   " (not in this run: %s)" % context["warm_allocator"]["error"])]
    for group, title, words in TORCH213_GROUPS:
        configs = sorted({(r["dtype"] != "float32", r["n"], r["dtype"], r["threads"]) for r in rows
                          if r["group"] == group})
        if not configs:
            continue
        impls = [(i, label) for i, label in TORCH213_IMPLS if any(r["impl"] == i and r["group"] == group for r in rows)]
        lines = []
        for _, n, dtype, threads in configs:
            cells = [size_label(n), dtype, str(threads)]
            cells += [torch213_cell(find(group, impl, dtype, n, threads)) for impl, _ in impls]
            base = {i: find(group, i, dtype, n, threads) for i in ("pytorch", "pytorch-compiled", "simdrop",
                                                                  "simdrop-module", "simdrop-compiled")}

            def over(a, b):
                return num(ratio(torch213_rate(base[a]), torch213_rate(base[b]))) if base[a] and base[b] else "–"
            cells += [over("simdrop", "pytorch"), over("simdrop", "pytorch-compiled"),
                      over("simdrop-compiled", "simdrop-module")]
            lines.append(cells)
        header = ["n", "dtype", "threads"] + [label + " G el/s [min–max]" for _, label in impls]
        header += ["dropout ÷ F.dropout", "dropout ÷ compiled F.dropout", "compiled module ÷ module"]
        details = sorted({r["allocator_detail"] for r in rows if r["group"] == group and r.get("allocator_detail")})
        if details:
            words += " This run: `%s`." % "`, `".join(details)
        out += ["", "#### %s" % title, "", words, "", markdown_table(header, lines)]
    faults = [r for r in rows if r["n"] == max(x["n"] for x in rows) and r.get("minor_faults_per_call") is not None
              and r["group"] in ("torch/forward", "torch/forward/warm-allocator", "torch/forward_backward",
                                 "torch/forward_backward/warm-allocator", "torch/forward_inplace")]
    if faults:
        lines = []
        for group in ("torch/forward", "torch/forward/warm-allocator", "torch/forward_inplace",
                      "torch/forward_backward", "torch/forward_backward/warm-allocator"):
            for dtype in ("float32", "bfloat16"):
                for threads in sorted({r["threads"] for r in faults}):
                    cells = [group[len("torch/"):], dtype, str(threads)]
                    found = False
                    for impl, _ in TORCH213_IMPLS:
                        r = find(group, impl, dtype, max(x["n"] for x in rows), threads)
                        found = found or r is not None
                        cells.append(num(r["minor_faults_per_call"]) if r else "–")
                    if found:
                        lines.append(cells)
        out += ["", "#### Minor page faults per call at %s" % size_label(max(r["n"] for r in rows)), "",
                "What the allocation costs: each 4 KiB page a call touches for the first time is one fault.", "",
                markdown_table(["group", "dtype", "threads"] + [label for _, label in TORCH213_IMPLS], lines)]
    checks = []
    group = "torch/forward_backward"
    for threads in sorted({r["threads"] for r in rows if r["group"] == group and r["n"] == TORCH213_TARGET_N
                           and r["dtype"] == "float32"}):
        rows_at = {i: find(group, i, "float32", TORCH213_TARGET_N, threads) for i, _ in TORCH213_IMPLS}
        plural = "" if threads == 1 else "s"
        for impl, other, minimum, text in (
                ("simdrop", "pytorch", 5.0, "simdrop.torch.dropout ≥ 5× eager F.dropout"),
                ("simdrop", "pytorch-compiled", 5.0, "simdrop.torch.dropout ≥ 5× compiled F.dropout")):
            a, b = rows_at.get(impl), rows_at.get(other)
            if a and b:
                x = torch213_rate(a) / torch213_rate(b)
                checks.append("- %d thread%s, %s: %s× (%s vs %s G el/s): %s%s"
                              % (threads, plural, text, num(x), num(torch213_rate(a) / 1e9),
                                 num(torch213_rate(b) / 1e9), "**met**" if x >= minimum else "**missed**",
                                 " (a row is noisy)" if a.get("flags") or b.get("flags") else ""))
        eager, compiled = rows_at.get("simdrop-module"), rows_at.get("simdrop-compiled")
        if eager and compiled:
            x = compiled["seconds_per_call"] / eager["seconds_per_call"]
            checks.append("- %d thread%s, simdrop compiled within 10%% of simdrop eager (compiled Dropout module "
                          "against the eager module): compiled takes %s× the eager time (%s vs %s ms): %s%s"
                          % (threads, plural, num(x), num(compiled["seconds_per_call"] * 1e3),
                             num(eager["seconds_per_call"] * 1e3), "**met**" if x <= 1.10 else "**missed**",
                             " (a row is noisy)" if eager.get("flags") or compiled.get("flags") else ""))
            functional = rows_at.get("simdrop")
            if functional:
                checks.append("  (against simdrop.torch.dropout eager, %s ms: %s×)"
                              % (num(functional["seconds_per_call"] * 1e3),
                                 num(compiled["seconds_per_call"] / functional["seconds_per_call"])))
    if checks:
        out += ["", "#### Targets (issue 23, item 6): forward + backward at 4M float32, out of place", ""] + checks
    loads = context.get("load", [])
    if loads:
        out += ["", "#### Load around each size", "", LOAD_WORDS, "", load_table(loads)]
    noisy = [r for r in rows if "noisy" in r["flags"]]
    stalled = [r for r in rows if "stall" in r["flags"]]
    retried = [r for r in rows if r.get("attempts", 1) > 1]
    out += ["", "† marks a row that is **noisy** (max − min over its rounds above %d%% of the median, after %s "
            "re-measure(s) at most) or **stalled** (on 2 threads slower than %g× its time on one thread plus "
            "%g µs: the other core was not free, see the load; with libgomp's default `OMP_WAIT_POLICY` a "
            "parallel region then waits for a time slice; this run: `OMP_WAIT_POLICY=%s`)."
            % (round(100 * float(context.get("noisy_spread", noise.NOISY_SPREAD))), context.get("retries", "?"),
               noise.STALL_FACTOR, noise.STALL_SLACK_S * 1e6, context.get("omp_wait_policy") or "unset"),
            "", "%d of %d rows were re-measured for noise; %d are still noisy%s; %d stalled%s."
            % (len(retried), len(rows), len(noisy),
               " (" + ", ".join("`%s` ±%.0f%%" % (r["name"], 50 * r["spread"]) for r in noisy[:12]) + ")"
               if noisy else "",
               len(stalled), " (" + ", ".join("`%s`" % r["name"] for r in stalled[:12]) + ")" if stalled else "")]
    return out


def main():
    parser = argparse.ArgumentParser(description="Writes results/report.md and results/throughput.png.")
    parser.add_argument("--gbench", default=None, help="simdrop_bench JSON (required unless --python-only)")
    parser.add_argument("--peer", default=None, help="torch_dropout.py JSON (optional)")
    parser.add_argument("--out-dir", default="results")
    parser.add_argument("--command", default=None, help="the command that produced the numbers, for the record")
    parser.add_argument("--suite-seconds", type=float, default=None, help="wall time of the benchmark run, for the record")
    parser.add_argument("--python", action="append", default=[],
                        help="JSON of bench/peers/simdrop_python.py or torch213.py (optional; may be repeated)")
    parser.add_argument("--python-only", action="store_true", help="only the Python section (no --gbench)")
    args = parser.parse_args()

    python_lines = python_sections([p for p in args.python if os.path.exists(p)])
    if args.python_only:
        if python_lines is None:
            print("report.py: --python-only needs --python FILE", file=sys.stderr)
            return 1
        os.makedirs(args.out_dir, exist_ok=True)
        text = "\n".join(["## Python and PyTorch", ""] + python_lines) + "\n"
        with open(os.path.join(args.out_dir, "python.md"), "w") as f:
            f.write(text)
        print(text)
        print("Wrote %s" % os.path.join(args.out_dir, "python.md"))
        return 0
    if not args.gbench:
        print("report.py: --gbench is required (or --python-only)", file=sys.stderr)
        return 1

    context, rows, errors, document = load_gbench(args.gbench)
    peer_context, peer_rows, peer_unavailable = load_peer(args.peer)
    results = Results(rows, peer_rows)
    if not results.sizes:
        print("report.py: no usable rows in %s" % args.gbench, file=sys.stderr)
        return 1
    os.makedirs(args.out_dir, exist_ok=True)

    cpu = lscpu()
    model = cpu.get("Model name", "unknown CPU")
    cores = cpu.get("Core(s) per socket", "?")
    sockets = cpu.get("Socket(s)", "1")
    cpus = cpu.get("CPU(s)", str(context.get("num_cpus", "?")))
    caches = ", ".join("%s %s" % (k.replace(" cache", ""), cpu[k]) for k in ("L1d cache", "L2 cache", "L3 cache") if k in cpu)
    auto_isa = context.get("simdrop_auto_isa", "")
    keep_prob = context.get("simdrop_keep_prob", "?")
    try:
        keep_prob = "%g" % float(keep_prob)
    except ValueError:
        pass
    date = context.get("date") or datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    reps = sorted({r.source for r in rows})
    md = []
    md.append("# simdrop benchmark report")
    md.append("")
    vendor, family, cpu_model, arch = cpu_identity()
    md.append("- Machine: %s, %s CPUs (%s cores per socket x %s sockets, %s threads per core); %s"
              % (model, cpus, cores, sockets, cpu.get("Thread(s) per core", "?"), caches or "caches unknown"))
    md.append("- CPU: %s, family %s, model %s: microarchitecture %s"
              % (vendor, family if family is not None else "?", cpu_model if cpu_model is not None else "?", arch))
    md.append("- Date: %s (benchmark start); load average at start: %s"
              % (date, ", ".join("%.2f" % x for x in context.get("load_avg", [])) or "unknown"))
    if args.command:
        md.append("- Command: `%s`" % args.command)
    if args.suite_seconds:
        md.append("- Benchmark suite wall time: %.0f s" % args.suite_seconds)
    md.append("- simdrop implementations on this CPU: %s (automatic choice: %s); \"all\" threads = %s"
              % (context.get("simdrop_isas", "?"), auto_isa or "?", context.get("simdrop_all_threads", "?")))
    md.append("- Rows: %s (Google Benchmark's own library reports a \"%s\" build: that is the harness as "
              "Debian packages it, not simdrop, which is built Release)"
              % (", ".join(reps), context.get("library_build_type", "?")))
    if peer_rows:
        md.append("- PyTorch %s: `%s`, median of %s timed repeat(s)"
                  % (peer_context.get("torch_version", "?"), peer_context.get("call", "F.dropout"),
                     peer_context.get("repeats", "?")))
    else:
        md.append("- PyTorch: %s" % (peer_unavailable or "no rows"))
    md.append("")
    md.append("What is measured: inverted dropout forward, `y = keep ? x * scale : 0` on n float32 "
              "elements, out of place, keep_prob = %s (p = 0.1, the usual training value), no mask output, "
              "a new stream for every call. G elements/s is n divided by the time per call; GB/s counts "
              "8 bytes per element (read 4, write 4). The roof is the faster of two copies of the same "
              "buffers at the same size and thread count: `memcpy` and a loop of streaming (non-temporal) "
              "stores. It is paired: after every repetition of a row the two copies are timed right away, "
              "and \"of roof\" is the median over the repetitions of the row's GB/s over that pair's "
              "roof (the copy rows' own fractions, and PyTorch's, are over the copy rows of the run); "
              "\"× naive (a)\" compares with the one-thread mt19937 loop at the same size, \"× PyTorch\" "
              "with PyTorch at the same thread count." % keep_prob)
    md.append("")
    head = headline(results, auto_isa)
    if head:
        md.append("## Headline figures")
        md.append("")
        md += head
        md.append("")
    md.append("## Per size")
    md.append("")
    md.append("min–max: the slowest and fastest repetition in G elements/s (the row is their median); "
              "notes: ±half that range in %% of the median, \"noisy\" where max − min exceeds %d%% of the median, "
              "\"roof departs\" where the copy roof timed with the row (or, for a copy row, the row itself) dips "
              "or jumps against the neighbouring sizes by more than the cache levels explain, \"stalled\" where "
              "the row or its roof is much slower on several threads than on one; a † marks "
              "any of them, here, in the tables below and (hollow markers) in the plot; \"re-measured\" rows were "
              "timed again before this report (section \"Load and noise\")." % round(100 * noise.NOISY_SPREAD))
    printed = []
    for n in results.sizes:
        title = "### %s floats (%s per buffer)" % (size_label(n), bytes_label(4 * n))
        table = size_table(results, n)
        md += ["", title, "", table]
        printed += [title, "", table, ""]
    md.append("")
    md.append("![throughput against size](throughput.png)")
    md.append("")
    md.append("## Every forward row")
    md.append("")
    md.append("G elements/s (fraction of the copy roof at the same size and thread count).")
    for t in results.threads:
        md += ["", "### %d thread%s" % (t, "" if t == 1 else "s"), "", forward_matrix(results, t)]
    other = other_calls_table(results)
    if other:
        md += ["", "## Other calls", "",
               "`forward_mask`: forward with the mask output (`forward_mask_offset3`: the same call at offset "
               "3, where the mask bits are packed in order instead of written in place); "
               "`backward_mask`: backward_mask_f32 from a stored "
               "mask; `fill_u32`: the raw word stream; other rows as their bench_*.cpp file describes them. "
               "Here GB/s counts the bytes each call moves (8.125 per element with a mask, 4 for fill_u32, "
               "which only writes), so \"of roof\" compares real traffic with the 8-byte copy.", "", other]
    if python_lines:
        md += ["", "## Python and PyTorch", "", "bench/peers/simdrop_python.py, in the same run."] + python_lines
    md += ["", "## The copy roof", "", roof_table(results)]
    small = [(n, t) for n in results.sizes for t in results.threads if t > 1
             and results.best_roof(n, t) and results.best_roof(n, 1) and results.best_roof(n, t) < results.best_roof(n, 1)]
    if small:
        md += ["", "At %s the %d-thread copy was slower than the one-thread copy, so fractions of that roof run "
               "high there: for small sizes the OpenMP fork and join cost more than the copy (simdrop keeps "
               "small calls on one thread), and at any size other work on the machine that holds up one "
               "thread shows up as a slow threaded copy."
               % (", ".join(size_label(n) for n, _ in small), max(results.threads))]
    noisy = sorted((r for r in rows if r.cv is not None and r.cv > 0.05), key=lambda r: -r.cv)
    if noisy:
        md += ["", "## Noise", "",
               "%d of %d rows vary by more than 5%% between repetitions (coefficient of variation of the "
               "time); the worst: %s. Other work on the machine shows up here, and most in the "
               "multi-threaded rows, where one descheduled thread holds up the call."
               % (len(noisy), len(rows), ", ".join("`%s` %.0f%%" % ("/".join(r.fields) + "/n:%d/omp:%d" % (r.n, r.threads), 100 * r.cv)
                                                    for r in noisy[:8]))]
    md += noise_section(rows, document)
    if errors:
        md += ["", "## Rows that failed", ""] + ["- `%s`: %s" % e for e in errors]
    plot_problem = plot(results, os.path.join(args.out_dir, "throughput.png"))
    if plot_problem:
        md += ["", "(%s)" % plot_problem]
    md.append("")
    report_path = os.path.join(args.out_dir, "report.md")
    with open(report_path, "w") as f:
        f.write("\n".join(md))

    print("\n".join(md[:md.index("## Per size")]))
    print("\n".join(printed))
    print("Wrote %s%s" % (report_path, "" if plot_problem else " and " + os.path.join(args.out_dir, "throughput.png")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
