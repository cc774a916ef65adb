#!/usr/bin/env bash
# The benchmark report in one command: installs what is missing (Debian packages
# through scripts/install-deps.sh; the Python side from PyPI into
# build-python/venv through scripts/python-env.sh), builds simdrop_bench in
# Release (build-release/), runs the Google Benchmark suite size by size with
# the machine's load recorded around each size and noisy rows re-measured
# (bench/peers/noise.py), times PyTorch's CPU dropout beside it, and writes
# results/: the raw JSON, report.md and throughput.png. Prints the table at the
# end. build-release/ is configured for the benchmark alone (tests, examples
# and the Python package off). The Python rows run in the venv, with the torch
# (2.13.0, CPU) and the simdrop package python-env.sh installed there:
# bench/peers/torch213.py (simdrop.torch against F.dropout, eager and
# torch.compile'd, out of place, in place and with a warm allocator, forward and
# forward + backward; docs/bench-python.md says what each row measures) and
# bench/peers/simdrop_python.py (the numpy module against the tutorial's lines,
# per-call overhead) are a section of the report.
#
#   scripts/bench.sh           the full suite: 4K, 32K, 256K, 4M, 64M floats; 1 and all threads;
#                              Python rows at 4K (float32), 64K, 4M, 64M (float32, bfloat16)
#   scripts/bench.sh --quick   about 30 seconds of C++ rows (32K, 4M, 64M floats, one repetition)
#                              and a short Python part (no torch.compile rows), into results/quick/
#                              (the full report is left alone)
#   scripts/bench.sh --python  only the Python rows (about 16 minutes on 2 busy cores), into
#                              results/python/ (python.json, torch213.json, python.md); no C++ build
#
# Environment: SIMDROP_BENCH_SIZES, SIMDROP_BENCH_THREADS and SIMDROP_BENCH_EXTRA_SIZES
# override the suite's sizes and thread counts (see bench/bench_main.cpp);
# SIMDROP_BENCH_RESULTS the output folder; SIMDROP_BENCH_JOBS the build's
# parallelism (default: the number of CPUs); SIMDROP_BENCH_RETRIES the rounds of
# re-measuring flagged C++ rows (default 2, --quick 1; 0: none); SIMDROP_BENCH_PYTHON=0
# leaves the venv, PyTorch and the Python rows out (the report then runs on
# python3, with a plot only if that has matplotlib). TORCHINDUCTOR_CACHE_DIR
# defaults to build-python/inductor-cache. OMP_WAIT_POLICY is passed through
# as set (the report records it). Arguments after -- go to simdrop_bench.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
quick=0
python_only=0
with_python="${SIMDROP_BENCH_PYTHON:-1}"
extra_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) quick=1 ;;
    --python) python_only=1; with_python=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    --) shift; extra_args=("$@"); break ;;
    *) echo "bench.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

if [[ $quick -eq 1 ]]; then
  sizes="${SIMDROP_BENCH_SIZES:-32K,4M,64M}"
  extra_sizes="${SIMDROP_BENCH_EXTRA_SIZES:-32K}"
  repetitions=1
  min_time=0.05
  retries="${SIMDROP_BENCH_RETRIES:-1}"
  torch_repeats=1
  torch_min_time=0.02
  numpy_args=(--repeats 3 --min-time 0.05)
  torch213_args=(--sizes 64K,4M --bf16-sizes 4M --warm-sizes "" --repeats 3 --min-time 0.05 --retries 1
                 --skip-compiled --no-probe)
  results="${SIMDROP_BENCH_RESULTS:-$root/results/quick}"
  command_line="scripts/bench.sh --quick"
else
  sizes="${SIMDROP_BENCH_SIZES:-4K,32K,256K,4M,64M}"
  extra_sizes="${SIMDROP_BENCH_EXTRA_SIZES:-32K,64M}"
  # Three repetitions (the report takes the median, and shows min and max) of
  # at least 0.2 s each keep the whole suite near 5 minutes on 2 cores.
  repetitions=3
  min_time=0.2
  retries="${SIMDROP_BENCH_RETRIES:-2}"
  torch_repeats=5
  torch_min_time=0.1
  numpy_args=(--repeats 5 --min-time 0.1)
  torch213_args=(--sizes 4K,64K,4M,64M --bf16-sizes 64K,4M,64M --warm-sizes 64M --repeats 5 --min-time 0.1
                 --retries 2)
  results="${SIMDROP_BENCH_RESULTS:-$root/results}"
  command_line="scripts/bench.sh"
fi
if [[ $python_only -eq 1 ]]; then
  results="${SIMDROP_BENCH_RESULTS:-$root/results/python}"
  command_line="scripts/bench.sh --python"
  [[ $quick -eq 1 ]] && command_line="scripts/bench.sh --quick --python"
fi
threads="${SIMDROP_BENCH_THREADS:-1,all}"
build="$root/build-release"
started=$SECONDS

say() { printf '\n==> %s\n' "$*"; }

# ---- 1. Packages: Debian's (as root or through sudo -n), then the venv from PyPI ----
if ! bash "$root/scripts/install-deps.sh"; then
  echo "bench.sh: scripts/install-deps.sh could not install everything (see above); carrying on" >&2
fi
python=""
if [[ $with_python == 1 ]]; then
  say "Python environment (scripts/python-env.sh: torch 2.13.0 CPU and simdrop in build-python/venv)"
  if python="$(bash "$root/scripts/python-env.sh" | tail -n 1)" && [[ -x $python ]]; then
    echo "bench.sh: Python rows run on $python"
  else
    python=""
    if [[ $python_only -eq 1 ]]; then
      echo "bench.sh: scripts/python-env.sh failed; the Python rows need it" >&2
      exit 1
    fi
    echo "bench.sh: scripts/python-env.sh failed; leaving the Python and PyTorch rows out" >&2
    with_python=0
  fi
fi
# The report's interpreter: the venv's (it has matplotlib), else python3 (plot only if it has matplotlib).
report_python="${python:-$(command -v python3)}"
export TORCHINDUCTOR_CACHE_DIR="${TORCHINDUCTOR_CACHE_DIR:-$root/build-python/inductor-cache}"

run_python_rows() {  # <all-threads> <output folder>
  say "Timing simdrop's Python package against PyTorch and numpy (threads $threads)"
  "$python" "$root/bench/peers/simdrop_python.py" --skip torch --threads "$threads" --all-threads "$1" \
    "${numpy_args[@]}" --out "$2/python.json"
  say "Timing torch $("$python" -c 'import torch; print(torch.__version__)' 2>/dev/null) against simdrop.torch, eager and compiled (threads $threads)"
  "$python" "$root/bench/peers/torch213.py" --threads "$threads" --all-threads "$1" "${torch213_args[@]}" \
    --out "$2/torch213.json"
}

if [[ $python_only -eq 1 ]]; then
  mkdir -p "$results"
  python_started=$SECONDS
  run_python_rows "$(nproc)" "$results"
  "$python" "$root/bench/report.py" --python "$results/python.json" --python "$results/torch213.json" \
    --python-only --out-dir "$results"
  echo "bench.sh: Python rows $((SECONDS - python_started)) s; results in ${results#"$root"/}/"
  exit 0
fi

# ---- 2. Build (Release, the library's default SIMD implementations) -------
say "Building simdrop_bench (Release) in ${build#"$root"/}"
generator=()
if [[ ! -f $build/CMakeCache.txt ]] && command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
# Only what the benchmark needs: the library (SIMD on, as by default) and simdrop_bench.
# The Python package is pip's (scripts/python-env.sh); OFF here also for a build folder
# configured by an older bench.sh.
cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DSIMDROP_BUILD_BENCHMARKS=ON \
  -DSIMDROP_BUILD_TESTS=OFF -DSIMDROP_BUILD_EXAMPLES=OFF -DSIMDROP_BUILD_PYTHON=OFF >/dev/null
cmake --build "$build" --target simdrop_bench -j "${SIMDROP_BENCH_JOBS:-$(nproc)}"
bench="$build/bench/simdrop_bench"
build_seconds=$((SECONDS - started))

# ---- 3. The suite, size by size, with the load around each size -------------
mkdir -p "$results"
json="$results/simdrop_bench.json"
log="$results/simdrop_bench.log"
say "Running simdrop_bench ($sizes floats, threads $threads, $repetitions repetition(s) of >= ${min_time} s, size by size, up to $retries re-measure round(s)); full output in ${log#"$root"/}"
suite_started=$SECONDS
# One line per row on the terminal (the median, or the run itself without repetitions).
if [[ $repetitions -gt 1 ]]; then show='_median |^simdrop_|^Run on'; else show='/real_time |^simdrop_|^Run on'; fi
"$report_python" "$root/bench/peers/noise.py" suite --bench "$bench" --sizes "$sizes" --threads "$threads" \
  --extra-sizes "$extra_sizes" --out "$json" --log "$log" --retries "$retries" --show "$show" -- \
  --benchmark_min_time="$min_time" --benchmark_repetitions="$repetitions" \
  --benchmark_display_aggregates_only=true "${extra_args[@]}"
suite_seconds=$((SECONDS - suite_started))

# ---- 4. PyTorch beside it ---------------------------------------------------
all_threads="$("$report_python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["context"].get("simdrop_all_threads", 0))' "$json")"
torch_seconds=0
peer_report=()
if [[ $with_python == 1 ]]; then
  say "Timing PyTorch's CPU dropout (threads 1 and $all_threads)"
  torch_started=$SECONDS
  "$python" "$root/bench/peers/torch_dropout.py" --sizes "$sizes" --threads "$threads" --all-threads "$all_threads" \
    --keep-prob 0.9 --repeats "$torch_repeats" --min-time "$torch_min_time" --out "$results/torch_dropout.json"
  peer_report=(--peer "$results/torch_dropout.json")
  torch_seconds=$((SECONDS - torch_started))
fi

# ---- 5. The Python package beside them ---------------------------------------
python_report=()
python_seconds=0
if [[ $with_python == 1 ]]; then
  python_started=$SECONDS
  run_python_rows "$all_threads" "$results"
  python_report=(--python "$results/python.json" --python "$results/torch213.json")
  python_seconds=$((SECONDS - python_started))
fi

# ---- 6. The report -----------------------------------------------------------
say "Report"
"$report_python" "$root/bench/report.py" --gbench "$json" "${peer_report[@]}" --out-dir "$results" \
  --command "$command_line" --suite-seconds "$suite_seconds" "${python_report[@]}"

echo
echo "bench.sh: build ${build_seconds} s, simdrop_bench ${suite_seconds} s, PyTorch ${torch_seconds} s, Python ${python_seconds} s, total $((SECONDS - started)) s"
echo "bench.sh: results in ${results#"$root"/}/ (simdrop_bench.json, torch_dropout.json, torch213.json, report.md, throughput.png)"
