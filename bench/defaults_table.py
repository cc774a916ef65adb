#!/usr/bin/env python3
"""The calls at the defaults against issue 25's targets, from a benchmark JSON.

    build/bench/simdrop_bench --simdrop_sizes=32K,64M --benchmark_filter='defaults/|copy/' \\
        --benchmark_repetitions=3 --benchmark_out=defaults.json --benchmark_out_format=json
    python3 bench/defaults_table.py defaults.json > defaults.md

For each defaults/<call>/<isa> row (bench/bench_defaults.cpp), medians over
repetitions:
  in cache (32K, 1 thread): elements/s against defaults/forward's (target 0.8;
    bf16 and f16 0.9);
  out of cache (64M, 1 thread and all threads): the call's bytes/s against its
    bound, min(its paired copy roof, threads x its own in-cache bytes/s)
    (target 0.9), and whether all threads are at least as fast as one.
Prints a Markdown table with the machine line; standard library only.
"""
import json
import re
import statistics
import sys

ROW = re.compile(r"^defaults/(?P<call>[^/]+)/(?P<isa>[^/]+)/n:(?P<n>\d+)/omp:(?P<threads>\d+)")


def medians(data):
    """(call, isa, n, threads) -> dict of medians of elements/s, GB/s, paired roof GB/s."""
    samples = {}
    for bench in data["benchmarks"]:
        if bench.get("run_type") == "aggregate" or bench.get("error_occurred"):
            continue
        match = ROW.match(bench["name"])
        if not match:
            continue
        key = (match["call"], match["isa"], int(match["n"]), int(match["threads"]))
        entry = samples.setdefault(key, {"eps": [], "gbps": [], "roof": []})
        entry["eps"].append(bench["elements_per_second"])
        entry["gbps"].append(bench["GB_per_second"])
        entry["roof"].append(bench.get("paired_roof_GB_per_second", 0.0))
    return {key: {name: statistics.median(values) for name, values in entry.items()} for key, entry in samples.items()}


def main(path):
    with open(path) as handle:
        data = json.load(handle)
    rows = medians(data)
    context = data.get("context", {})
    small = min((n for (_, _, n, _) in rows), default=0)
    large = max((n for (_, _, n, _) in rows), default=0)
    threads_all = max((t for (_, _, n, t) in rows if n == large), default=1)
    calls = sorted({(call, isa) for (call, isa, _, _) in rows}, key=lambda c: list(rows).index((c[0], c[1], small, 1))
                   if (c[0], c[1], small, 1) in rows else 0)
    print("Calls at the defaults (Philox, 16-bit thresholds, keep_prob 0.9): %s, %s, %s"
          % (context.get("simdrop_cpu", context.get("host_name", "?")), context.get("date", "?"),
             context.get("simdrop_active_isa", "")))
    print()
    print("| call | 32K, 1 thread: of the 1-D forward | 64M, 1 thread: of its bound | 64M, %d threads: of its bound "
          "| 64M: %d threads / 1 thread |" % (threads_all, threads_all))
    print("|---|---|---|---|---|")
    missed = []
    for call, isa in calls:
        base = rows.get(("forward", isa, small, 1))
        here = rows.get((call, isa, small, 1))
        cells = [call]
        target = 0.9 if call in ("forward_bf16", "forward_f16") else 0.8
        if base and here:
            ratio = here["eps"] / base["eps"]
            cells.append("%.2f%s" % (ratio, "" if ratio >= target else " (target %.1f)" % target))
            if ratio < target:
                missed.append("%s in cache: %.2f of the 1-D forward (target %.1f)" % (call, ratio, target))
        else:
            cells.append("-")
        speeds = {}
        for threads in (1, threads_all):
            row = rows.get((call, isa, large, threads))
            if not row or not here:
                cells.append("-")
                continue
            bound = min(row["roof"], threads * here["gbps"]) if row["roof"] else threads * here["gbps"]
            fraction = row["gbps"] / bound if bound else 0.0
            speeds[threads] = row["eps"]
            cells.append("%.2f (%.1f of %.1f GB/s)" % (fraction, row["gbps"], bound))
            if fraction < 0.9:
                missed.append("%s 64M %d thread(s): %.2f of min(roof %.1f, %d x in-cache %.1f GB/s)"
                              % (call, threads, fraction, row["roof"], threads, here["gbps"]))
        if 1 in speeds and threads_all in speeds and threads_all > 1:
            gain = speeds[threads_all] / speeds[1]
            cells.append("%.2f" % gain)
            if gain < 1.0:
                missed.append("%s 64M: %d threads slower than 1 (%.2f)" % (call, threads_all, gain))
        else:
            cells.append("-")
        print("| " + " | ".join(cells) + " |")
    print()
    if missed:
        print("Missed (%d):" % len(missed))
        for line in missed:
            print("- " + line)
    else:
        print("Every target met.")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: defaults_table.py <benchmark json>")
    main(sys.argv[1])
