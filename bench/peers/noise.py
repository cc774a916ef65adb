#!/usr/bin/env python3
"""What the benchmark report needs to show its own noise (issue 27, item 6).

A row's spread is the min, median and max of its repetitions; the load around a
size is /proc/loadavg and the CPU time of the machine (/proc/stat) split into the
benchmark's own, other processes' at normal priority, niced processes' and the
hypervisor's steal. A row is suspect when it is noisy (its repetitions spread by
more than NOISY_SPREAD of the median), when its copy roof departs from the
neighbouring sizes' by more than the cache levels explain, or when it (or its
roof) is slower on several threads than on one (classify()).

Used by bench/report.py (spread(), classify(), the load records) and by
scripts/bench.sh, which runs the C++ suite through it:

  noise.py suite --bench build-release/bench/simdrop_bench --sizes 4K,32K,256K,4M,64M --threads 1,all \\
      --extra-sizes 32K,64M --out results/simdrop_bench.json --log results/simdrop_bench.log --retries 2 \\
      -- --benchmark_min_time=0.2 --benchmark_repetitions=3

runs simdrop_bench once per size (so that the load is recorded before and after
each size), merges the JSON into one file (Google Benchmark's, plus "simdrop_load"
and "simdrop_remeasure"), then re-measures the suspect rows, at most --retries
rounds of at most --max-rows rows, and keeps for each row the better attempt (no
roof departure or stall first, then the smaller spread); every attempt stays in the file.
"""
import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

NOISY_SPREAD = 0.10     # (max - min) / median of a row's repetitions above which it is "noisy"
ROOF_TOLERANCE = 1.5    # a roof may differ this much from a neighbour's at the same cache level...
LEVEL_FACTOR = 4.0      # ...and this much more for each cache level between them
PAIRED_ROOF_FLOOR = 0.5  # a row's paired roof below this fraction of its size's copy rows: "roof"
STALL_FACTOR = 1.5      # on several threads, slower than on one by this factor...
STALL_SLACK_S = 50e-6   # ...plus this (the fork and join): "stall", the other cores were not free
STAT_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice")


# ---------------------------------------------------------------- load

def cpu_times():
    """/proc/stat's aggregate CPU line in seconds, {} where there is none."""
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("cpu "):
                    hz = float(os.sysconf("SC_CLK_TCK"))
                    return {k: int(v) / hz for k, v in zip(STAT_FIELDS, line.split()[1:])}
    except (OSError, ValueError):
        pass
    return {}


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            fields = f.read().split()
        return [float(x) for x in fields[:3]], fields[3]
    except (OSError, ValueError, IndexError):
        return [], ""


def snapshot():
    """The machine's state now: load averages, CPU times, this process's and its reaped children's CPU time."""
    average, running = loadavg()
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"time": time.time(), "monotonic": time.monotonic(), "loadavg": average, "running": running,
            "cpu": cpu_times(), "self_cpu": own.ru_utime + own.ru_stime,
            "children_cpu": children.ru_utime + children.ru_stime}


def load_between(before, after, **labels):
    """The load record of an interval: load averages at both ends; CPU seconds of the benchmark itself
    (this process and the children it reaped), of other processes at normal priority and niced, and
    stolen by the hypervisor; with `cores` = CPU seconds per wall second."""
    wall = max(after["monotonic"] - before["monotonic"], 1e-9)
    own = (after["self_cpu"] - before["self_cpu"]) + (after["children_cpu"] - before["children_cpu"])
    record = dict(labels)
    record.update({"start": before["time"], "wall_s": wall, "loadavg_before": before["loadavg"],
                   "loadavg_after": after["loadavg"], "running_before": before["running"],
                   "running_after": after["running"], "cpus": os.cpu_count(), "benchmark_cpu_s": own})
    a, b = before["cpu"], after["cpu"]
    if a and b:
        d = {k: b.get(k, 0.0) - a.get(k, 0.0) for k in STAT_FIELDS}
        normal = d["user"] - d["guest"] + d["system"] + d["irq"] + d["softirq"]
        niced = d["nice"] - d["guest_nice"]
        if os.getpriority(os.PRIO_PROCESS, 0) > 0:
            niced -= own
        else:
            normal -= own
        record.update({"others_cpu_s": max(normal, 0.0), "others_niced_cpu_s": max(niced, 0.0),
                       "steal_s": d["steal"], "idle_s": d["idle"] + d["iowait"]})
        for key in ("benchmark", "others", "others_niced", "steal"):
            record[key + "_cores"] = record[key + "_cpu_s"] / wall if key != "steal" else d["steal"] / wall
    return record


def describe_load(record):
    """One line: 'load 1.02 -> 1.35; others 0.41 cores (niced 0.97), steal 0.00'."""
    text = "load %s -> %s" % ("%.2f" % record["loadavg_before"][0] if record.get("loadavg_before") else "?",
                              "%.2f" % record["loadavg_after"][0] if record.get("loadavg_after") else "?")
    if "others_cores" in record:
        text += "; other processes %.2f cores (niced %.2f), steal %.2f, this benchmark %.2f" % (
            record["others_cores"], record["others_niced_cores"], record["steal_cores"], record["benchmark_cores"])
    return text


# ---------------------------------------------------------------- spread and suspects

def spread(values):
    """(min, median, max, (max - min) / median) of a list of positive numbers; None for an empty list."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    median = statistics.median(values)
    return min(values), median, max(values), ((max(values) - min(values)) / median if median > 0 else 0.0)


def cache_levels():
    """[(level, bytes, shared by how many CPUs)] of data/unified caches, from sysfs (cpu0), ascending."""
    levels = []
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        return levels
    for entry in entries:
        if not entry.startswith("index"):
            continue
        try:
            def read(name):
                with open(os.path.join(base, entry, name)) as f:
                    return f.read().strip()
            if read("type") == "Instruction":
                continue
            size = read("size")
            scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(size[-1:], 1)
            number = int(size[:-1]) if scale > 1 else int(size)
            shared = read("shared_cpu_list")
            count = 0
            for part in shared.split(","):
                lo, _, hi = part.partition("-")
                count += (int(hi) - int(lo) + 1) if hi else 1
            levels.append((int(read("level")), number * scale, max(count, 1)))
        except (OSError, ValueError):
            continue
    return sorted(levels)


def level_of(n, threads, caches, bytes_per_element=8.0):
    """The cache level a call of n elements on `threads` threads works in: the first that holds the
    footprint (x and y), counting one instance of a cache per `shared` CPUs the threads run on;
    len(caches) + 1 stands for memory."""
    footprint = n * bytes_per_element
    for index, (_, size, shared) in enumerate(caches):
        instances = -(-max(threads, 1) // shared)
        if footprint <= size * instances:
            return index + 1
    return len(caches) + 1


def stalled(seconds, one_thread_seconds):
    """True when a call on several threads took longer than STALL_FACTOR times the same call on one
    thread plus STALL_SLACK_S: a parallel region waited for a core that was not free."""
    return seconds > STALL_FACTOR * one_thread_seconds + STALL_SLACK_S


def classify(rows, caches=None):
    """Flags per row key. rows: {key: {"series": (name without n and thread count, threads), "n": n,
    "threads": t, "spread": spread() of its rate or None, "seconds": its median time per call or None,
    "roof": its roof in GB/s (of an 8-byte-per-element copy) or None, "size_roof": the copy rows' roof at
    its size and thread count or None}}. Returns {key: [reasons]}:
      "noisy"  the spread above NOISY_SPREAD;
      "roof"   a dip or spike of the roof against the neighbouring sizes of the same series beyond
               ROOF_TOLERANCE x LEVEL_FACTOR per cache level between them (a dip at the smallest size
               with several threads is not flagged: there the fork and join cost more than the copy),
               or a paired roof below PAIRED_ROOF_FLOOR of the size's copy rows;
      "stall"  on several threads, the row or its roof slower than the same on one thread (stalled()).
    """
    caches = cache_levels() if caches is None else caches
    flags = {key: [] for key in rows}
    series = {}
    by_place = {(row["series"][0], row["n"], row["threads"]): key for key, row in rows.items()}
    for key, row in rows.items():
        s = row.get("spread")
        if s and s[3] > NOISY_SPREAD:
            flags[key].append("noisy")
        if row.get("roof"):
            series.setdefault(row["series"], []).append(key)
        one = rows.get(by_place.get((row["series"][0], row["n"], 1)))
        if row["threads"] > 1 and one:
            if row.get("seconds") and one.get("seconds") and stalled(row["seconds"], one["seconds"]):
                flags[key].append("stall")
            elif row.get("roof") and one.get("roof") and stalled(8e-9 * row["n"] / row["roof"],
                                                                  8e-9 * row["n"] / one["roof"]):
                flags[key].append("stall")
    for keys in series.values():
        keys.sort(key=lambda k: rows[k]["n"])
        for i, key in enumerate(keys):
            row = rows[key]
            level = level_of(row["n"], row["threads"], caches)
            verdicts = []
            for j in (i - 1, i + 1):
                if 0 <= j < len(keys):
                    other = rows[keys[j]]
                    levels = abs(level - level_of(other["n"], other["threads"], caches))
                    allowed = ROOF_TOLERANCE * LEVEL_FACTOR ** levels
                    ratio = row["roof"] / other["roof"]
                    verdicts.append("dip" if ratio < 1 / allowed else "spike" if ratio > allowed else "ok")
            departs = bool(verdicts) and (all(v == "dip" for v in verdicts) or all(v == "spike" for v in verdicts))
            if departs and verdicts[0] == "dip" and i == 0 and row["threads"] > 1:
                departs = False
            if departs or (row.get("size_roof") and row["roof"] < PAIRED_ROOF_FLOOR * row["size_roof"]):
                flags[key].append("roof")
    return flags


# ---------------------------------------------------------------- Google Benchmark rows

def gbench_row_stats(benchmarks):
    """{run_name: {"n", "threads", "series", "rates", "roofs", "gbps"}} from the individual runs of a
    Google Benchmark document (rows whose name has no n: and omp: field are left out)."""
    stats = {}
    for entry in benchmarks:
        if entry.get("run_type") == "aggregate" or entry.get("error_occurred"):
            continue
        name = entry.get("run_name", entry.get("name", ""))
        fields = name.split("/")
        n = threads = None
        for field in fields:
            if field.startswith("n:"):
                n = int(field[2:])
            elif field.startswith("omp:"):
                threads = int(field[4:])
        if n is None or threads is None:
            continue
        row = stats.setdefault(name, {"n": n, "threads": threads, "rates": [], "roofs": [], "gbps": [],
                                      "series": ("/".join(f for f in fields if not f.startswith(("n:", "omp:"))),
                                                 threads)})
        row["rates"].append(entry.get("elements_per_second"))
        row["gbps"].append(entry.get("GB_per_second"))
        if "paired_roof_GB_per_second" in entry:
            row["roofs"].append(entry["paired_roof_GB_per_second"])
    return stats


def gbench_classify(benchmarks, caches=None):
    """classify() over a Google Benchmark document's individual runs: a copy row's roof is its own
    GB/s, any other row's the median of its paired roofs. Returns (flags, rows)."""
    stats = gbench_row_stats(benchmarks)
    size_roof = {}
    for name, row in stats.items():
        if name.startswith("copy/") and row["gbps"]:
            key = (row["n"], row["threads"])
            size_roof[key] = max(size_roof.get(key, 0.0), statistics.median(row["gbps"]))
    rows = {}
    for name, row in stats.items():
        is_copy = name.startswith("copy/")
        roof_values = row["gbps"] if is_copy else row["roofs"]
        rates = [r for r in row["rates"] if r]
        rows[name] = {"series": row["series"], "n": row["n"], "threads": row["threads"],
                      "spread": spread(rates) if len(rates) > 1 else None,
                      "seconds": row["n"] / statistics.median(rates) if rates else None,
                      "roof": statistics.median(roof_values) if roof_values else None,
                      "size_roof": None if is_copy else size_roof.get((row["n"], row["threads"]))}
    return classify(rows, caches), rows


def badness(flags, row):
    """Sort key of an attempt: a roof departure or a stall first, then the spread."""
    s = row.get("spread")
    return ("roof" in flags or "stall" in flags, s[3] if s else 0.0)


# ---------------------------------------------------------------- the suite runner

def ere_escape(text):
    """text as a literal in a POSIX extended regular expression (Google Benchmark's --benchmark_filter)."""
    return re.sub(r"([.\[\]()*+?{}|^$\\])", r"\\\1", text)


def run_bench(command, log, show):
    """Runs command, appends its output to log, echoes the lines that match show; returns the exit status."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    for line in process.stdout:
        log.write(line)
        if show and show.search(line):
            sys.stdout.write(line)
            sys.stdout.flush()
    log.flush()
    return process.wait()


def size_label(n):
    for unit, scale in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= scale and n % scale == 0:
            return "%d%s" % (n // scale, unit)
    return str(n)


def parse_size(text):
    text = text.strip()
    multiplier = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}.get(text[-1:].lower(), 1)
    return int(text[:-1] if multiplier > 1 else text) * multiplier


def suite(args, bench_args):
    sizes = sorted({parse_size(s) for s in args.sizes.split(",") if s.strip()})
    show = re.compile(args.show) if args.show else None
    merged = None
    loads = []
    with open(args.log, "w") as log, tempfile.TemporaryDirectory(prefix="simdrop-bench-") as scratch:
        def one_run(n, phase, extra):
            out = os.path.join(scratch, "run-%d.json" % len(loads))
            command = [args.bench, "--simdrop_sizes=%d" % n, "--simdrop_threads=" + args.threads,
                       "--simdrop_extra_sizes=" + args.extra_sizes] + bench_args + extra + [
                "--benchmark_out=" + out, "--benchmark_out_format=json"]
            log.write("\n$ %s\n" % " ".join(command))
            before = snapshot()
            status = run_bench(command, log, show)
            record = load_between(before, snapshot(), n=n, phase=phase, status=status)
            loads.append(record)
            print("==> %s (%s): %s" % (size_label(n), phase, describe_load(record)), flush=True)
            if status != 0 or not os.path.exists(out):
                print("noise.py: %s exited with %d at n=%d (%s)" % (args.bench, status, n, phase), file=sys.stderr)
                return None
            with open(out) as f:
                return json.load(f)

        for n in sizes:
            document = one_run(n, "suite", [])
            if document is None:
                return 1
            if merged is None:
                merged = document
            else:
                merged["benchmarks"] += document.get("benchmarks", [])
        attempts = {}
        rounds = []
        for round_number in range(1, args.retries + 1):
            flags, rows = gbench_classify(merged["benchmarks"])
            suspects = sorted((name for name, f in flags.items() if f), key=lambda k: badness(flags[k], rows[k]),
                              reverse=True)[:args.max_rows]
            if not suspects:
                break
            # A copy row is re-measured with its partner: the roof is the better of the two.
            wanted = set(suspects)
            for name in suspects:
                if name.startswith("copy/"):
                    place = (rows[name]["n"], rows[name]["threads"])
                    wanted |= {other for other in rows
                               if other.startswith("copy/") and (rows[other]["n"], rows[other]["threads"]) == place}
            round_record = {"round": round_number, "rows": sorted(wanted), "kept": []}
            for n in sorted({rows[name]["n"] for name in wanted}):
                names = sorted(name for name in wanted if rows[name]["n"] == n)
                pattern = "^(%s)$" % "|".join(ere_escape(name) for name in names)
                document = one_run(n, "re-measure %d" % round_number, ["--benchmark_filter=" + pattern])
                if document is None:
                    continue
                fresh = {}
                for entry in document.get("benchmarks", []):
                    fresh.setdefault(entry.get("run_name", entry.get("name")), []).append(entry)
                for name in names:
                    if name not in fresh:
                        continue
                    old = [e for e in merged["benchmarks"] if e.get("run_name", e.get("name")) == name]
                    rest = [e for e in merged["benchmarks"] if e.get("run_name", e.get("name")) != name]
                    trial_flags, trial_rows = gbench_classify(rest + fresh[name])
                    history = attempts.setdefault(name, [{"round": 0, "flags": flags[name],
                                                          "spread": rows[name]["spread"], "roof": rows[name]["roof"],
                                                          "benchmarks": old}])
                    history.append({"round": round_number, "flags": trial_flags.get(name, []),
                                    "spread": trial_rows[name]["spread"], "roof": trial_rows[name]["roof"],
                                    "benchmarks": fresh[name]})
                    if badness(trial_flags.get(name, []), trial_rows[name]) < badness(flags[name], rows[name]):
                        merged["benchmarks"] = rest + fresh[name]
                        round_record["kept"].append(name)
            rounds.append(round_record)
    final_flags, _ = gbench_classify(merged["benchmarks"])
    for name, history in attempts.items():
        kept = max((h["round"] for h in history
                    if any(e in merged["benchmarks"] for e in h["benchmarks"])), default=0)
        for h in history:
            h["kept"] = h["round"] == kept
            h.pop("benchmarks")
    merged["simdrop_load"] = loads
    merged["simdrop_remeasure"] = {"retries": args.retries, "max_rows": args.max_rows, "rounds": rounds,
                                   "attempts": attempts, "still_flagged": {k: v for k, v in final_flags.items() if v},
                                   "noisy_spread": NOISY_SPREAD, "roof_tolerance": ROOF_TOLERANCE,
                                   "level_factor": LEVEL_FACTOR, "paired_roof_floor": PAIRED_ROOF_FLOOR,
                                   "caches": cache_levels()}
    with open(args.out, "w") as f:
        json.dump(merged, f, indent=1)
    remeasured = sum(len(r["rows"]) for r in rounds)
    print("noise.py: %d size run(s), %d row(s) re-measured in %d round(s), %d still flagged; %s"
          % (len(sizes), remeasured, len(rounds), len(merged["simdrop_remeasure"]["still_flagged"]), args.out))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("suite", help="run simdrop_bench size by size, record the load, re-measure suspect rows")
    run.add_argument("--bench", required=True)
    run.add_argument("--sizes", required=True)
    run.add_argument("--threads", default="1,all")
    run.add_argument("--extra-sizes", default="32K,64M")
    run.add_argument("--out", required=True)
    run.add_argument("--log", required=True)
    run.add_argument("--retries", type=int, default=2, help="rounds of re-measuring suspect rows (0: none)")
    run.add_argument("--max-rows", type=int, default=40, help="rows re-measured per round, at most")
    run.add_argument("--show", default="", help="regular expression: output lines to echo")
    sub.add_parser("snapshot", help="print the machine's load now, as JSON")
    argv = sys.argv[1:]
    bench_args = []
    if "--" in argv:
        bench_args = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    args = parser.parse_args(argv)
    if args.command == "snapshot":
        print(json.dumps(snapshot()))
        return 0
    # A size list among the benchmark's own arguments (scripts/bench.sh -- --simdrop_sizes=...) wins.
    for item in list(bench_args):
        if item.startswith("--simdrop_sizes="):
            args.sizes = item.split("=", 1)[1]
            bench_args.remove(item)
    return suite(args, bench_args)


if __name__ == "__main__":
    sys.exit(main())
