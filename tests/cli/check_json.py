#!/usr/bin/env python3
"""Runs `simdrop info --json` or `simdrop bench ... --json` and checks that it
exits 0 with one JSON object of the promised shape on stdout. It checks names,
types and structure, never a figure (no timed tests).

usage: check_json.py info|bench -- <the command and its arguments>
"""
import json
import math
import re
import subprocess
import sys


def fail(message):
    print("check_json: " + message, file=sys.stderr)
    sys.exit(1)


def need(condition, message):
    if not condition:
        fail(message)


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_info(doc):
    for key in ("version", "header_version", "build", "implementations", "active", "cpu", "threads", "defaults"):
        need(key in doc, "info: no %r" % key)
    need(re.fullmatch(r"\d+\.\d+\.\d+", doc["version"]), "info: version %r" % doc["version"])
    for key in ("compiler", "build_type", "cxx_flags", "kernel_flags", "openmp"):
        need(key in doc["build"], "info: build has no %r" % key)
    implementations = doc["implementations"]
    need(isinstance(implementations, list) and implementations, "info: no implementations")
    for entry in implementations:
        need(isinstance(entry.get("name"), str) and isinstance(entry.get("supported"), bool)
             and isinstance(entry.get("active"), bool), "info: implementation %r" % entry)
    names = [entry["name"] for entry in implementations]
    need(names[-1] == "scalar", "info: scalar is not last in %r" % names)
    active = [entry["name"] for entry in implementations if entry["active"]]
    need(active == [doc["active"]["name"]], "info: active %r against %r" % (active, doc["active"]))
    need(doc["active"]["reason"] in ("detection", "SIMDROP_ISA", "simdrop_set_isa"), "info: reason")
    need(doc["active"]["detected"] in names, "info: detected")
    cpu = doc["cpu"]
    for key in ("architecture", "vendor", "microarchitecture", "note"):
        need(isinstance(cpu.get(key), str), "info: cpu.%s" % key)
    for key in ("family", "model", "stepping"):
        need(isinstance(cpu.get(key), int), "info: cpu.%s" % key)
    need(isinstance(cpu.get("dispatch_features"), dict) and cpu["dispatch_features"]
         and all(isinstance(v, bool) for v in cpu["dispatch_features"].values()), "info: dispatch_features")
    need(isinstance(doc["threads"].get("omp_max_threads"), int) and doc["threads"]["omp_max_threads"] >= 1,
         "info: omp_max_threads")
    need(doc["defaults"].get("generator") in ("philox", "xoshiro"), "info: defaults.generator")
    need(doc["defaults"].get("threshold_bits") in (8, 16, 32), "info: defaults.threshold_bits")


def check_bench(doc):
    # Google Benchmark's JSON: a context object and a benchmarks array.
    context = doc.get("context")
    need(isinstance(context, dict), "bench: no context object")
    for key, kind in (("date", str), ("host_name", str), ("executable", str), ("num_cpus", int),
                      ("mhz_per_cpu", int), ("cpu_scaling_enabled", bool), ("caches", list),
                      ("load_avg", list), ("library_build_type", str)):
        need(isinstance(context.get(key), kind), "bench: context.%s" % key)
    runs = doc.get("benchmarks")
    need(isinstance(runs, list) and runs, "bench: no benchmarks")
    name_pattern = re.compile(r"[a-z0-9_]+/[a-z0-9_]+(/(philox|xoshiro))?(/(8|16|32)bit)?/n:\d+/omp:\d+")
    medians = set()
    iterations = set()
    for run in runs:
        need(isinstance(run.get("name"), str), "bench: a run without a name")
        for key in ("real_time", "cpu_time", "items_per_second", "paired_roof_fraction"):
            need(is_number(run.get(key)), "bench: %s of %s" % (key, run["name"]))
        need(run.get("time_unit") in ("ns", "us", "ms", "s"), "bench: time_unit of %s" % run["name"])
        need(name_pattern.fullmatch(run["run_name"]), "bench: run_name %r" % run["run_name"])
        if run.get("run_type") == "aggregate":
            need(run.get("aggregate_name") == "median" and run["name"] == run["run_name"] + "_median",
                 "bench: aggregate %s" % run["name"])
            medians.add(run["run_name"])
        else:
            need(run.get("run_type") == "iteration" and run["name"] == run["run_name"]
                 and isinstance(run.get("repetition_index"), int), "bench: run %s" % run["name"])
            iterations.add(run["run_name"])
    need(medians == iterations, "bench: rows without a median: %r" % (iterations ^ medians))


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("info", "bench") or sys.argv[2] != "--":
        fail(__doc__.strip().splitlines()[-1])
    result = subprocess.run(sys.argv[3:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if result.returncode != 0:
        fail("exit status %d: %s" % (result.returncode, result.stderr.decode(errors="replace")))
    try:
        doc = json.loads(result.stdout.decode())
    except ValueError as error:
        fail("not JSON: %s" % error)
    need(isinstance(doc, dict), "not one JSON object")
    (check_info if sys.argv[1] == "info" else check_bench)(doc)
    print("check_json: %s: shape as promised" % sys.argv[1])


if __name__ == "__main__":
    main()
