#!/usr/bin/env python3
"""PyTorch's CPU dropout, timed at the sizes and thread counts of simdrop_bench.

Times torch.nn.functional.dropout(x, p=1 - keep_prob, training=True) on a
contiguous float32 tensor of n elements (out of place, as a model calls it),
with torch.set_num_threads(t). Each (n, t) gets one warm-up call, then
--repeats timed repeats of k calls (k chosen so a repeat lasts at least
--min-time seconds); the row is the median time per call, with the min, the max,
every repeat ("samples") and the flag "noisy" where max - min exceeds 10 % of it.

Writes JSON for bench/report.py:
  {"schema": "simdrop-peer-1", "peer": "pytorch", "context": {...},
   "rows": [{"name": "pytorch/dropout/n:4096/omp:1", "n": 4096, "threads": 1,
             "keep_prob": 0.9, "seconds_per_call": ..., "elements_per_second": ...,
             "GB_per_second": ..., "repeats": 5, "calls_per_repeat": ...}, ...]}
GB/s counts 8 bytes per element (read 4, write 4), as simdrop_bench does.
Without torch it says so, writes a file with no rows and the reason, and exits 0.
"""
import argparse
import datetime
import json
import os
import statistics
import sys
import time

from noise import NOISY_SPREAD
from peer_args import default_all_threads, parse_sizes, parse_threads


def write(path, document):
    if path == "-":
        json.dump(document, sys.stdout, indent=1)
        print()
        return
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(path, "w") as out:
        json.dump(document, out, indent=1)


def time_one(torch, functional, n, threads, keep_prob, repeats, min_time):
    torch.set_num_threads(threads)
    x = torch.rand(n, dtype=torch.float32) + 1.0
    p = 1.0 - keep_prob

    def call():
        return functional.dropout(x, p=p, training=True)

    start = time.perf_counter()
    y = call()  # warm-up: first-touch of the allocator's pages, thread pool start
    single = time.perf_counter() - start
    del y
    calls = max(1, int(min_time / max(single, 1e-9)) + 1) if single < min_time else 1
    per_call = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            y = call()
        per_call.append((time.perf_counter() - start) / calls)
        del y
    seconds = statistics.median(per_call)
    return {
        "name": "pytorch/dropout/n:%d/omp:%d" % (n, threads),
        "n": n,
        "threads": threads,
        "keep_prob": keep_prob,
        "seconds_per_call": seconds,
        "elements_per_second": n / seconds,
        "GB_per_second": 8.0 * n / seconds / 1e9,
        "repeats": repeats,
        "calls_per_repeat": calls,
        "min_seconds_per_call": min(per_call),
        "max_seconds_per_call": max(per_call),
        "samples": per_call,
        "flags": ["noisy"] if (max(per_call) - min(per_call)) / seconds > NOISY_SPREAD else [],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4K,32K,256K,4M,64M", help="elements per call (K, M = 1024, 1024^2)")
    parser.add_argument("--threads", default="1,all", help='thread counts; "all" = --all-threads')
    parser.add_argument("--all-threads", type=int, default=0,
                        help="what \"all\" means (default: OMP_NUM_THREADS, else the CPUs this process may use)")
    parser.add_argument("--keep-prob", type=float, default=0.9)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.05, help="seconds per timed repeat, at least")
    parser.add_argument("--out", default="-", help="JSON output file (- for stdout)")
    args = parser.parse_args()

    all_threads = args.all_threads if args.all_threads > 0 else default_all_threads()
    sizes = sorted(set(parse_sizes(args.sizes)))
    threads = parse_threads(args.threads, all_threads)
    document = {
        "schema": "simdrop-peer-1",
        "peer": "pytorch",
        "context": {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "python": sys.version.split()[0],
            "call": "torch.nn.functional.dropout(x, p=1-keep_prob, training=True)",
            "keep_prob": args.keep_prob,
            "all_threads": all_threads,
            "repeats": args.repeats,
            "min_time": args.min_time,
        },
        "rows": [],
    }
    try:
        import torch
        import torch.nn.functional as functional
    except ImportError as error:
        message = "PyTorch is not installed (%s); no peer rows" % error
        print("torch_dropout.py: " + message)
        document["unavailable"] = message
        write(args.out, document)
        return 0

    document["context"]["torch_version"] = torch.__version__
    try:
        document["context"]["torch_parallel_info"] = torch.__config__.parallel_info()
    except Exception:  # informative only
        pass
    torch.manual_seed(12345)
    for n in sizes:
        for t in threads:
            row = time_one(torch, functional, n, t, args.keep_prob, args.repeats, args.min_time)
            document["rows"].append(row)
            print("%-36s %10.3f us/call %8.3f G elements/s %8.2f GB/s"
                  % (row["name"], row["seconds_per_call"] * 1e6, row["elements_per_second"] / 1e9,
                     row["GB_per_second"]), file=sys.stderr if args.out == "-" else sys.stdout)
    write(args.out, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
