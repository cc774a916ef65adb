#!/usr/bin/env python3
"""simdrop's Python package against PyTorch's and numpy's dropout, in one run.

Rows (keep_prob 0.9, i.e. p = 0.1; float32 unless said):
  torch/forward           simdrop.torch.dropout(x, p) (impl "simdrop": the default generator,
                          Philox 32-bit; impl "simdrop-xoshiro16": generator="xoshiro",
                          threshold_bits=16) and torch.nn.functional.dropout(x, p) (impl
                          "pytorch"), x not requiring grad, at --sizes and at --bf16-sizes in bfloat16
  torch/forward_backward  y = f(x, p); y.backward(g) with x requiring grad (x.grad reset each call)
  numpy/dropout           simdrop.dropout(a, keep_prob, seed, out=a) (Philox 32-bit, and xoshiro
                          16-bit as "simdrop-xoshiro16") against the tutorial's three lines (d = np.random.rand(*a.shape) < keep_prob; a *= d; a /= keep_prob),
                          a float32, in place, at --numpy-size
  overhead                time per call at 1 element: simdrop.torch.dropout, the raw op
                          torch.ops.simdrop.dropout, torch.nn.functional.dropout, simdrop.dropout
Every torch row runs with torch.set_num_threads(t) for t in --threads ("all" = --all-threads);
simdrop's calls follow torch's thread count. The rows that are compared are timed
alternately: each of --repeats rounds times k calls of every contender (k chosen
so one round lasts at least --min-time seconds); a row is the median time per call.

Writes JSON for bench/report.py (--python):
  {"schema": "simdrop-python-1", "context": {...},
   "rows": [{"name": "torch/forward/simdrop/float32/n:4194304/omp:1", "group": "torch/forward",
             "impl": "simdrop", "dtype": "float32", "n": 4194304, "threads": 1,
             "seconds_per_call": ..., "min_seconds_per_call": ..., "elements_per_second": ...,
             "repeats": 5, "calls_per_repeat": ...}, ...]}

    build-python/venv/bin/python bench/peers/simdrop_python.py --out results/python.json
(scripts/bench.sh runs it with --skip torch: bench/peers/torch213.py times the torch rows, with
torch.compile, in place and a warm allocator, in the same row format.)
"""
import argparse
import datetime
import json
import os
import statistics
import sys
import time

from noise import NOISY_SPREAD
from peer_args import default_all_threads, parse_size, parse_sizes, parse_threads

KEEP_PROB = 0.9


def time_alternating(contenders, repeats, min_time):
    """contenders: {name: call}. Returns {name: (median s/call, min s/call, calls per round, samples)}."""
    calls = {}
    for name, call in contenders.items():
        call()  # warm-up: page faults, thread pool, first-use dispatch
        start = time.perf_counter()
        call()
        single = time.perf_counter() - start
        calls[name] = max(1, int(min_time / max(single, 1e-9)) + 1) if single < min_time else 1
    samples = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, call in contenders.items():
            k = calls[name]
            start = time.perf_counter()
            for _ in range(k):
                call()
            samples[name].append((time.perf_counter() - start) / k)
    return {name: (statistics.median(s), min(s), calls[name], s) for name, s in samples.items()}


def add_rows(rows, results, group, dtype, n, threads, repeats, log):
    for impl, (median, best, k, samples) in results.items():
        row = {"name": "%s/%s/%s/n:%d/omp:%d" % (group, impl, dtype, n, threads), "group": group, "impl": impl,
               "dtype": dtype, "n": n, "threads": threads, "seconds_per_call": median,
               "min_seconds_per_call": best, "max_seconds_per_call": max(samples), "samples": samples,
               "spread": (max(samples) - best) / median, "elements_per_second": n / median, "repeats": repeats,
               "calls_per_repeat": k, "flags": ["noisy"] if (max(samples) - best) / median > NOISY_SPREAD else []}
        rows.append(row)
        print("%-58s %12.2f us/call %9.3f G elements/s" % (row["name"], median * 1e6, n / median / 1e9),
              file=log, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4K,64K,4M,64M", help="float32 sizes of the torch rows")
    parser.add_argument("--bf16-sizes", default="4M", help="bfloat16 sizes of the torch rows")
    parser.add_argument("--numpy-size", default="1M")
    parser.add_argument("--threads", default="1,all")
    parser.add_argument("--all-threads", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.1, help="seconds per contender per round, at least")
    parser.add_argument("--skip", default="", help="comma-separated groups to skip: torch, numpy, overhead")
    parser.add_argument("--out", default="-", help="JSON output file (- for stdout)")
    args = parser.parse_args()

    import numpy as np
    import torch
    import torch.nn.functional as F

    import simdrop
    import simdrop.torch as sdt

    log = sys.stderr if args.out == "-" else sys.stdout
    all_threads = args.all_threads if args.all_threads > 0 else default_all_threads()
    threads = parse_threads(args.threads, all_threads)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    p = 1.0 - KEEP_PROB
    rows = []
    torch.manual_seed(1234)
    np.random.seed(1234)

    if "torch" not in skip:
        configs = [(n, torch.float32) for n in parse_sizes(args.sizes)]
        configs += [(n, torch.bfloat16) for n in parse_sizes(args.bf16_sizes)]
        for n, dtype in configs:
            name = str(dtype).replace("torch.", "")
            x = torch.rand(n, dtype=torch.float32).add_(1.0).to(dtype)
            xg = x.clone().requires_grad_()
            g = torch.ones(n, dtype=dtype)
            for t in threads:
                torch.set_num_threads(t)
                forward = {"pytorch": lambda: F.dropout(x, p, True), "simdrop": lambda: sdt.dropout(x, p),
                           "simdrop-xoshiro16": lambda: sdt.dropout(x, p, generator="xoshiro", threshold_bits=16)}
                add_rows(rows, time_alternating(forward, args.repeats, args.min_time), "torch/forward", name, n, t,
                         args.repeats, log)

                def backward_of(function):
                    def call():
                        xg.grad = None
                        function(xg, p).backward(g)
                    return call

                both = {"pytorch": backward_of(lambda v, q: F.dropout(v, q, True)),
                        "simdrop": backward_of(lambda v, q: sdt.dropout(v, q)),
                        "simdrop-xoshiro16": backward_of(lambda v, q: sdt.dropout(v, q, generator="xoshiro",
                                                                                   threshold_bits=16))}
                add_rows(rows, time_alternating(both, args.repeats, args.min_time), "torch/forward_backward", name,
                         n, t, args.repeats, log)
            del x, xg, g

    if "numpy" not in skip:
        torch.set_num_threads(1)
        n = parse_size(args.numpy_size)
        a = np.random.rand(n).astype(np.float32) + 1.0
        b = a.copy()

        def tutorial():
            d = np.random.rand(*b.shape) < KEEP_PROB
            b.__imul__(d)
            b.__itruediv__(KEEP_PROB)

        contenders = {"tutorial": tutorial, "simdrop": lambda: simdrop.dropout(a, KEEP_PROB, 7, out=a),
                      "simdrop-xoshiro16": lambda: simdrop.dropout(a, KEEP_PROB, 7, out=a, generator="xoshiro",
                                                                   threshold_bits=16)}
        for t in threads:
            simdrop.set_num_threads(t)
            add_rows(rows, time_alternating(contenders, args.repeats, args.min_time), "numpy/dropout", "float32",
                     n, t, args.repeats, log)
        simdrop.set_num_threads(0)

    if "overhead" not in skip:
        torch.set_num_threads(1)
        x1 = torch.ones(1)
        a1 = np.ones(1, dtype=np.float32)
        seed1, stream1 = torch.tensor(5, dtype=torch.int64), torch.tensor(0, dtype=torch.int64)
        contenders = {
            "simdrop.torch.dropout": lambda: sdt.dropout(x1, p),
            "torch.ops.simdrop.dropout": lambda: torch.ops.simdrop.dropout(x1, KEEP_PROB, seed1, stream1, 0, "philox",
                                                                           32),
            "pytorch": lambda: F.dropout(x1, p, True),
            "simdrop.dropout": lambda: simdrop.dropout(a1, KEEP_PROB, 5),
        }
        add_rows(rows, time_alternating(contenders, args.repeats, args.min_time), "overhead", "float32", 1, 1,
                 args.repeats, log)

    document = {
        "schema": "simdrop-python-1",
        "context": {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "python": sys.version.split()[0],
            "numpy_version": np.__version__,
            "torch_version": torch.__version__,
            "torch_parallel_backend": "OpenMP" if "OpenMP" in torch.__config__.parallel_info() else "other",
            "simdrop_isa": simdrop.active_isa(),
            "keep_prob": KEEP_PROB,
            "all_threads": all_threads,
            "repeats": args.repeats,
            "min_time": args.min_time,
            "load_avg": list(os.getloadavg()) if hasattr(os, "getloadavg") else [],
            "command": " ".join(sys.argv),
        },
        "rows": rows,
    }
    if args.out == "-":
        json.dump(document, sys.stdout, indent=1)
        print()
    else:
        directory = os.path.dirname(args.out)
        if directory:
            os.makedirs(directory, exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(document, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
