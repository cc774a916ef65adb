#!/usr/bin/env python3
"""simdrop's PyTorch operators against torch 2.13's dropout, eager and torch.compile'd (issue 23, item 6).

Rows (keep_prob 0.9, i.e. p = 0.1), for each dtype (float32 at --sizes, bfloat16 at --bf16-sizes)
and thread count (--threads; torch.set_num_threads(t), which simdrop's calls follow):
  group torch/forward            y = f(x), x not requiring grad: a new output per call, so the
                                 allocation (and at 64M the page faults of a fresh tensor) is included
  group torch/forward_inplace    f(x, inplace=True): x overwritten, nothing allocated for the output
  group torch/forward_backward   y = f(x); y.backward(g), x a leaf requiring grad whose .grad is reset
                                 each call: allocates y, the gradient and, for F.dropout, its noise tensor
  the same two out-of-place groups with "/warm-allocator" at --warm-sizes: run in a child process
                                 with jemalloc preloaded (LD_PRELOAD, MALLOC_CONF=dirty_decay_ms:-1,
                                 muzzy_decay_ms:-1: freed memory is kept), so a freed tensor's pages are
                                 the next call's: the dropout without the page faults (Debian's
                                 libjemalloc2; without it these rows are left out, and the report says so)
impls:
  pytorch              torch.nn.functional.dropout(x, p, training=True[, inplace=True]), eager
  pytorch-compiled     torch.compile(lambda v: F.dropout(v, p, True[, inplace=True]), fullgraph=True):
                       Inductor's own CPU random numbers (Philox, in the generated kernel)
  simdrop              simdrop.torch.dropout(x, p[, inplace=True]) (Philox 32-bit lanes, 16-bit
                       threshold by default; a fresh seed from torch's generator per call)
  simdrop-xoshiro16    simdrop.torch.dropout(x, p, generator="xoshiro", threshold_bits=16)
  simdrop-module       simdrop.torch.Dropout(p[, inplace=True]), eager (seed once, stream = step)
  simdrop-compiled     torch.compile(simdrop.torch.Dropout(p[, inplace=True]), fullgraph=True)
Every compiled function is compiled with dynamic=False after torch._dynamo.reset(), once per
(dtype, size) (Inductor's kernels read the thread count at run time); its first call (the compile
on the first thread count) is timed apart as first_call_s.

Timing: the contenders of a group are timed alternately: --repeats rounds, each k calls of every
contender (k so that a round lasts at least --min-time seconds); a row is the median time per call,
with its min and max. A row whose max - min exceeds 10 % of the median is re-measured (its group's
noisy contenders, alternately), at most --retries times; the attempt with the smaller spread is
kept, and the row keeps "attempts" and, if still noisy, the flag "noisy". The load (noise.py) is
recorded before and after each (dtype, size), and minor page faults per call for every row.

Also recorded (context): torch.backends.mkl.is_available(), which random-number path torch's CPU
dropout takes (ops and generator use, checked at run time), what Inductor's generated dropout kernel
calls, and the cost of a fresh 256 MiB buffer in fresh processes (torch.empty(2**26).fill_(1) by
default, with THP_MEM_ALLOC_ENABLE=1, with glibc's malloc tunables and with the warm allocator, against numpy's
np.empty_like(x).fill(1)), with the page faults of each.

Writes JSON for bench/report.py (--python; the schema of simdrop_python.py's rows plus new keys).

    build-python/venv/bin/python bench/peers/torch213.py --out results/python/torch213.json
"""
import argparse
import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import time

from noise import NOISY_SPREAD, load_between, snapshot, spread
from peer_args import default_all_threads, parse_sizes, parse_threads

KEEP_PROB = 0.9
# The warm allocator: jemalloc (Debian's libjemalloc2) preloaded, told never to give freed memory back, so
# that a tensor freed by one call is the next call's, its pages already there. glibc's malloc cannot be
# told so: it maps a 256 MiB request afresh each time, and with mmap off (glibc.malloc.mmap_max=0) torch's
# 64-byte aligned requests do not fit the chunk the last one freed and the heap grows instead (measured).
JEMALLOC_PATHS = ("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
                  "/usr/lib64/libjemalloc.so.2", "/usr/lib/libjemalloc.so.2", "/usr/local/lib/libjemalloc.so.2")
JEMALLOC_CONF = "dirty_decay_ms:-1,muzzy_decay_ms:-1"


def jemalloc():
    """The path of libjemalloc.so.2, or None."""
    return next((path for path in JEMALLOC_PATHS if os.path.exists(path)), None)


def warm_environment():
    """The environment of the warm-allocator process (None without jemalloc)."""
    library = jemalloc()
    if library is None:
        return None
    env = dict(os.environ, LD_PRELOAD=library, MALLOC_CONF=JEMALLOC_CONF)
    env.pop("GLIBC_TUNABLES", None)
    return env
GROUPS = ("forward", "forward_inplace", "forward_backward")
IMPLS = ("pytorch", "pytorch-compiled", "simdrop", "simdrop-xoshiro16", "simdrop-module", "simdrop-compiled")


def minor_faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def time_rounds(contenders, calls, repeats):
    """{name: [seconds per call, one per round]} and {name: minor faults per call}, rounds alternating."""
    samples = {name: [] for name in contenders}
    faults = {name: 0 for name in contenders}
    for _ in range(repeats):
        for name, call in contenders.items():
            k = calls[name]
            before = minor_faults()
            start = time.perf_counter()
            for _ in range(k):
                call()
            samples[name].append((time.perf_counter() - start) / k)
            faults[name] += minor_faults() - before
    return samples, {name: faults[name] / (calls[name] * repeats) for name in contenders}


def measure(contenders, repeats, min_time, retries, counters):
    """Times contenders alternately; re-measures the noisy ones. Returns {name: result dict}."""
    calls, first_call, compiles = {}, {}, {}
    for name, call in contenders.items():
        graphs = counters()
        start = time.perf_counter()
        call()  # warm-up: the compile, page faults, the thread pool, first-use dispatch
        first_call[name] = time.perf_counter() - start
        start = time.perf_counter()
        call()
        single = time.perf_counter() - start
        compiles[name] = counters() - graphs
        calls[name] = max(1, int(min_time / max(single, 1e-9)) + 1) if single < min_time else 1
    graphs = counters()
    samples, faults = time_rounds(contenders, calls, repeats)
    attempts = {name: [samples[name]] for name in contenders}
    for _ in range(retries):
        noisy = {name: contenders[name] for name in contenders if spread(samples[name])[3] > NOISY_SPREAD}
        if not noisy:
            break
        again, again_faults = time_rounds(noisy, calls, repeats)
        for name in noisy:
            attempts[name].append(again[name])
            if spread(again[name])[3] < spread(samples[name])[3]:
                samples[name], faults[name] = again[name], again_faults[name]
    recompiles = counters() - graphs
    results = {}
    for name in contenders:
        low, median, high, relative = spread(samples[name])
        results[name] = {"seconds_per_call": median, "min_seconds_per_call": low, "max_seconds_per_call": high,
                         "spread": relative, "samples": samples[name], "calls_per_repeat": calls[name],
                         "attempts": len(attempts[name]), "attempt_spreads": [spread(a)[3] for a in attempts[name]],
                         "flags": ["noisy"] if relative > NOISY_SPREAD else [],
                         "minor_faults_per_call": faults[name], "first_call_s": first_call[name],
                         "graphs_compiled": compiles[name]}
        if recompiles:
            results[name]["graphs_compiled_while_timing"] = recompiles
    return results


def contenders_for(group, torch, F, sdt, p, tensors, only):
    """{impl: call} of one group; tensors: x (input), xi (in-place input), xg (leaf), g (gradient)."""
    compile_options = {"fullgraph": True, "dynamic": False}
    inplace = group == "forward_inplace"
    x = tensors["xi"] if inplace else tensors["x"]

    def eager_dropout(v):
        return F.dropout(v, p, True, inplace=inplace)

    table = {
        "pytorch": eager_dropout,
        "pytorch-compiled": torch.compile(eager_dropout, **compile_options),
        "simdrop": lambda v: sdt.dropout(v, p, inplace=inplace),
        "simdrop-module": sdt.Dropout(p, inplace=inplace),
        "simdrop-compiled": torch.compile(sdt.Dropout(p, inplace=inplace), **compile_options),
    }
    if not inplace:
        table["simdrop-xoshiro16"] = lambda v: sdt.dropout(v, p, generator="xoshiro", threshold_bits=16)
    table = {impl: table[impl] for impl in IMPLS if impl in table and impl in only}
    if group == "forward_backward":
        xg, g = tensors["xg"], tensors["g"]

        def backward_of(function):
            def call():
                xg.grad = None
                function(xg).backward(g)
            return call

        return {impl: backward_of(function) for impl, function in table.items()}
    return {impl: (lambda function=function: function(x)) for impl, function in table.items()}


# ---------------------------------------------------------------- facts about torch 2.13 on this machine

PROBE = r"""
import json, resource, sys, time
kind, threads, n, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
if kind == "numpy":
    import numpy as np
    x = np.ones(n, dtype=np.float32)
    def once():
        np.empty_like(x).fill(1)
else:
    import torch
    torch.set_num_threads(threads)
    def once():
        torch.empty(n).fill_(1)
once()
times, faults = [], []
for _ in range(repeats):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.perf_counter()
    once()
    times.append(time.perf_counter() - start)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"times": times, "faults": faults}))
"""


def allocation_probe(n, repeats, log):
    """A fresh n-float buffer written once, in fresh processes: torch (default, THP_MEM_ALLOC_ENABLE=1, the
    warm allocator) and numpy; seconds and minor page faults per buffer (median of `repeats`)."""
    cases = [("torch", 1, {}), ("torch", 2, {}), ("torch", 1, {"THP_MEM_ALLOC_ENABLE": "1"}),
             ("torch", 2, {"THP_MEM_ALLOC_ENABLE": "1"}),
             ("torch", 1, {"GLIBC_TUNABLES": "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736"})]
    if jemalloc():
        cases.append(("torch", 1, {"LD_PRELOAD": jemalloc(), "MALLOC_CONF": JEMALLOC_CONF}))
    cases.append(("numpy", 1, {}))
    out = []
    for kind, threads, extra in cases:
        env = dict(os.environ)
        for name in ("THP_MEM_ALLOC_ENABLE", "GLIBC_TUNABLES", "LD_PRELOAD", "MALLOC_CONF"):
            env.pop(name, None)
        env.update(extra)
        try:
            text = subprocess.run([sys.executable, "-c", PROBE, kind, str(threads), str(n), str(repeats)], env=env,
                                  capture_output=True, text=True, check=True, timeout=300).stdout
            result = json.loads(text.strip().splitlines()[-1])
        except (subprocess.SubprocessError, ValueError, IndexError) as error:
            out.append({"kind": kind, "threads": threads, "env": extra, "error": str(error)})
            continue
        low, median, high, _ = spread(result["times"])
        row = {"kind": kind, "threads": threads, "env": extra, "n": n, "seconds": median, "min_seconds": low,
               "max_seconds": high, "minor_faults": statistics.median(result["faults"]), "repeats": repeats}
        out.append(row)
        print("allocation probe %-6s %d thread(s) %-40s %8.1f ms %9.0f minor faults"
              % (kind, threads, " ".join("%s=%s" % kv for kv in extra.items()) or "(default)", median * 1e3,
                 row["minor_faults"]), file=log, flush=True)
    return out


def rng_facts(torch, F, log):
    """What torch's CPU dropout does for its random numbers, found out at run time."""
    facts = {"mkl_available": bool(torch.backends.mkl.is_available()),
             "mkldnn_available": bool(torch.backends.mkldnn.is_available())}
    try:
        from torch.profiler import profile
        x = torch.ones(1 << 12)
        with profile() as prof:
            F.dropout(x, 0.1, True)
        facts["dropout_ops"] = [e.name for e in prof.events() if e.name.startswith("aten::")]
    except Exception as error:  # informative only
        facts["dropout_ops"] = ["(profiler failed: %s)" % error]

    def next_draw_after(n):
        torch.manual_seed(0)
        torch.empty(n).bernoulli_(0.9)
        return int(torch.randint(0, 1 << 62, (1,)).item())
    # MKL's VSL path (vRngBernoulli) takes one 64-bit seed from the generator per call; the default
    # kernel draws from the generator (mt19937) once per element, serially.
    per_element = next_draw_after(1) != next_draw_after(4096)
    facts["generator_advances_per_element"] = per_element
    timings = {}
    y = torch.empty(1 << 22)
    for t in (1, 2):
        torch.set_num_threads(t)
        y.bernoulli_(0.9)
        start = time.perf_counter()
        for _ in range(3):
            y.bernoulli_(0.9)
        timings[t] = (time.perf_counter() - start) / 3
    facts["bernoulli_4M_seconds"] = timings
    if per_element:
        facts["path"] = ("F.dropout = empty_like + bernoulli_(1-p) + div_ + mul: bernoulli_ is ATen's default CPU "
                         "kernel (a serial loop drawing torch's mt19937 generator once per element), not MKL's "
                         "VSL, although MKL is linked")
    else:
        facts["path"] = ("F.dropout = empty_like + bernoulli_(1-p) + div_ + mul: bernoulli_ on MKL's VSL "
                         "(one seed per call, vRngBernoulli over the threads)")
    try:
        from torch._inductor.utils import run_and_get_code
        torch.set_num_threads(1)
        function = torch.compile(lambda v: F.dropout(v, 0.1, True), fullgraph=True, dynamic=False)
        _, sources = run_and_get_code(function, torch.ones(1 << 12))
        keys = ("rand_cpu", "randint", "inductor_random", "inductor_seeds", "philox")
        lines = [line.strip() for source in sources for line in source.splitlines()
                 if any(key in line for key in keys) and not line.strip().startswith("#")]
        facts["inductor_random_lines"] = lines[:6]
        torch._dynamo.reset()
    except Exception as error:  # informative only
        facts["inductor_random_lines"] = ["(could not get Inductor's code: %s)" % error]
    print("torch RNG: mkl_available=%s; %s; bernoulli_ of 4M floats %.1f ms (1 thread), %.1f ms (2 threads)"
          % (facts["mkl_available"], facts["path"], timings[1] * 1e3, timings[2] * 1e3), file=log, flush=True)
    return facts


def transparent_hugepages():
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            return f.read().strip()
    except OSError:
        return "unknown"


# ---------------------------------------------------------------- main

def run_rows(args, torch, F, sdt, log):
    from torch._dynamo.utils import counters as dynamo_counters

    def graphs():
        return dynamo_counters["stats"]["unique_graphs"]

    all_threads = args.all_threads if args.all_threads > 0 else default_all_threads()
    threads = parse_threads(args.threads, all_threads)
    p = 1.0 - KEEP_PROB
    only = [i for i in IMPLS if i not in {s.strip() for s in args.skip_impls.split(",")}]
    if args.skip_compiled:
        only = [i for i in only if not i.endswith("compiled")]
    groups = [g for g in GROUPS if g not in {s.strip() for s in args.skip_groups.split(",")}]
    configs = [(n, torch.float32) for n in parse_sizes(args.sizes)]
    configs += [(n, torch.bfloat16) for n in parse_sizes(args.bf16_sizes)]
    suffix = "/warm-allocator" if args.allocator == "warm" else ""
    rows, loads = [], []
    for n, dtype in configs:
        name = str(dtype).replace("torch.", "")
        before = snapshot()
        tensors = {"x": torch.rand(n, dtype=torch.float32).add_(1.0).to(dtype)}
        tensors["xi"] = tensors["x"].clone()
        tensors["xg"] = tensors["x"].clone().requires_grad_()
        tensors["g"] = torch.ones(n, dtype=dtype)
        # Compiled once per (dtype, size): Inductor's kernels take the thread count at run time
        # (#pragma omp parallel without num_threads), so the thread counts share the graphs.
        torch._dynamo.reset()
        per_group = {group: contenders_for(group, torch, F, sdt, p, tensors, only) for group in groups}
        for t in threads:
            torch.set_num_threads(t)
            for group in groups:
                results = measure(per_group[group], args.repeats, args.min_time, args.retries, graphs)
                for impl, result in results.items():
                    row = {"name": "torch/%s%s/%s/%s/n:%d/omp:%d" % (group, suffix, impl, name, n, t),
                           "group": "torch/" + group + suffix, "impl": impl, "dtype": name, "n": n, "threads": t,
                           "elements_per_second": n / result["seconds_per_call"], "repeats": args.repeats,
                           "allocator": args.allocator}
                    if args.allocator == "warm":
                        row["allocator_detail"] = "LD_PRELOAD=%s MALLOC_CONF=%s" % (
                            os.environ.get("LD_PRELOAD", ""), os.environ.get("MALLOC_CONF", ""))
                    row.update(result)
                    rows.append(row)
                    print("%-66s %11.1f us/call (%s..%s) %8.3f G el/s%s" % (
                        row["name"], row["seconds_per_call"] * 1e6, "%.1f" % (row["min_seconds_per_call"] * 1e6),
                        "%.1f" % (row["max_seconds_per_call"] * 1e6), row["elements_per_second"] / 1e9,
                        " noisy" if row["flags"] else ""), file=log, flush=True)
        del per_group
        del tensors
        record = load_between(before, snapshot(), n=n, dtype=name, allocator=args.allocator)
        loads.append(record)
    torch._dynamo.reset()
    return rows, loads


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64K,4M,64M", help="float32 sizes")
    parser.add_argument("--bf16-sizes", default="64K,4M,64M", help="bfloat16 sizes")
    parser.add_argument("--warm-sizes", default="64M", help="sizes (both dtypes) re-timed with the warm allocator")
    parser.add_argument("--threads", default="1,all")
    parser.add_argument("--all-threads", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.1, help="seconds per contender per round, at least")
    parser.add_argument("--retries", type=int, default=2, help="re-measures of a noisy row, at most")
    parser.add_argument("--skip-compiled", action="store_true", help="leave out the torch.compile rows")
    parser.add_argument("--skip-impls", default="", help="comma-separated impls to leave out")
    parser.add_argument("--skip-groups", default="", help="comma-separated groups to leave out: " + ", ".join(GROUPS))
    parser.add_argument("--no-probe", action="store_true", help="leave out the allocation and RNG facts")
    parser.add_argument("--allocator", default="default", choices=("default", "warm"), help=argparse.SUPPRESS)
    parser.add_argument("--out", default="-", help="JSON output file (- for stdout)")
    args = parser.parse_args()

    if args.allocator == "warm" and os.environ.get("MALLOC_CONF") != JEMALLOC_CONF:
        env = warm_environment()
        if env is None:
            print("torch213.py: --allocator warm needs jemalloc (Debian: libjemalloc2)", file=sys.stderr)
            return 1
        os.execve(sys.executable, [sys.executable] + sys.argv, env)

    import numpy as np
    import torch
    import torch.nn.functional as F

    import simdrop
    import simdrop.torch as sdt

    log = sys.stderr if args.out == "-" else sys.stdout
    torch.manual_seed(1234)
    context = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": sys.version.split()[0], "numpy_version": np.__version__, "torch_version": torch.__version__,
        "torch_parallel_backend": "OpenMP" if "OpenMP" in torch.__config__.parallel_info() else "other",
        "simdrop_version": getattr(simdrop, "__version__", "?"), "simdrop_isa": simdrop.active_isa(),
        "keep_prob": KEEP_PROB, "repeats": args.repeats, "min_time": args.min_time, "retries": args.retries,
        "noisy_spread": NOISY_SPREAD, "transparent_hugepage": transparent_hugepages(),
        "thp_mem_alloc_enable": os.environ.get("THP_MEM_ALLOC_ENABLE", ""), "allocator": args.allocator,
        "ld_preload": os.environ.get("LD_PRELOAD", ""), "malloc_conf": os.environ.get("MALLOC_CONF", ""),
        "command": " ".join(sys.argv),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS", ""),
        "load_avg": list(os.getloadavg()),
    }
    if not args.no_probe and args.allocator == "default":
        context["torch_rng"] = rng_facts(torch, F, log)
        context["allocation_probe"] = allocation_probe(1 << 26, 5, log)
    rows, loads = run_rows(args, torch, F, sdt, log)
    if args.allocator == "default" and args.warm_sizes.strip():
        # The out-of-place rows again, in a child whose allocator keeps freed memory.
        env = warm_environment()
        if env is None:
            context["warm_allocator"] = {"error": "no jemalloc (Debian: libjemalloc2): the warm-allocator rows are "
                                                  "left out"}
        else:
            child_out = (args.out if args.out != "-" else "torch213") + ".warm.json"
            command = [sys.executable, os.path.abspath(__file__), "--allocator", "warm", "--no-probe",
                       "--sizes", args.warm_sizes, "--bf16-sizes", args.warm_sizes if args.bf16_sizes.strip() else "",
                       "--warm-sizes", "", "--threads", args.threads, "--all-threads", str(args.all_threads),
                       "--repeats", str(args.repeats), "--min-time", str(args.min_time),
                       "--retries", str(args.retries), "--skip-groups", "forward_inplace",
                       "--skip-impls", args.skip_impls, "--out", child_out]
            if args.skip_compiled:
                command.append("--skip-compiled")
            log.flush()
            status = subprocess.run(command, env=env).returncode
            if status == 0 and os.path.exists(child_out):
                with open(child_out) as f:
                    child = json.load(f)
                rows += child["rows"]
                loads += child["context"].get("load", [])
                context["warm_allocator"] = {"ld_preload": env["LD_PRELOAD"], "malloc_conf": env["MALLOC_CONF"],
                                             "sizes": args.warm_sizes}
                os.remove(child_out)
            else:
                context["warm_allocator"] = {"error": "the warm-allocator child exited with %d" % status}
    context["load"] = loads
    document = {"schema": "simdrop-python-1", "producer": "torch213.py", "context": context, "rows": rows}
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
