#!/usr/bin/env bash
# The benchmark report in one command: installs what is missing (as root, on
# Debian/Ubuntu), builds simdrop_bench in Release (build-release/), runs the
# Google Benchmark suite (about 5 minutes on 2 cores), times PyTorch's CPU
# dropout beside it, and writes results/: the raw JSON, report.md and
# throughput.png. Prints the table at the end. build-release/ is configured
# for the benchmark alone (tests and examples off) and the Python package
# (SIMDROP_BUILD_PYTHON), whose rows (bench/peers/simdrop_python.py: simdrop.torch
# against torch.nn.functional.dropout, simdrop against the tutorial's numpy lines,
# per-call overhead) are a section of the report.
#
#   scripts/bench.sh           the full suite: 4K, 32K, 256K, 4M, 64M floats; 1 and all threads
#   scripts/bench.sh --quick   about 30 seconds: 32K, 4M, 64M floats, one repetition,
#                              into results/quick/ (the full report is left alone)
#   scripts/bench.sh --python  only the Python rows (about 2 minutes), into results/python/
#                              (python.json, python.md); the full report is left alone
#
# Environment: SIMDROP_BENCH_SIZES, SIMDROP_BENCH_THREADS and SIMDROP_BENCH_EXTRA_SIZES
# override the suite's sizes and thread counts (see bench/bench_main.cpp);
# SIMDROP_BENCH_RESULTS the output folder; SIMDROP_BENCH_JOBS the build's
# parallelism (default: the number of CPUs); SIMDROP_BENCH_PYTHON=0 leaves the
# Python package and its rows out. Arguments after -- go to simdrop_bench.
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
  torch_repeats=1
  torch_min_time=0.02
  python_args=(--sizes 64K,4M --bf16-sizes 4M --repeats 3 --min-time 0.05)
  results="${SIMDROP_BENCH_RESULTS:-$root/results/quick}"
  command_line="scripts/bench.sh --quick"
else
  sizes="${SIMDROP_BENCH_SIZES:-4K,32K,256K,4M,64M}"
  extra_sizes="${SIMDROP_BENCH_EXTRA_SIZES:-32K,64M}"
  # Three repetitions (the report takes the median) of at least 0.2 s each
  # keep the whole suite near 5 minutes on 2 cores.
  repetitions=3
  min_time=0.2
  torch_repeats=5
  torch_min_time=0.1
  python_args=(--repeats 5 --min-time 0.1)
  results="${SIMDROP_BENCH_RESULTS:-$root/results}"
  command_line="scripts/bench.sh"
fi
if [[ $python_only -eq 1 ]]; then
  results="${SIMDROP_BENCH_RESULTS:-$root/results/python}"
  command_line="scripts/bench.sh --python"
fi
threads="${SIMDROP_BENCH_THREADS:-1,all}"
build="$root/build-release"
started=$SECONDS

say() { printf '\n==> %s\n' "$*"; }

# ---- 1. Packages (only as root, only when something is missing) ----------
packages=(cmake ninja-build g++ libxsimd-dev libbenchmark-dev libomp-dev catch2 librandom123-dev
          python3 python3-matplotlib python3-numpy python3-torch)
[[ $with_python == 1 ]] && packages+=(python3-dev python3-pybind11 pybind11-dev libtorch-dev)
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if [[ ${#missing[@]} -gt 0 ]]; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    say "Installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
  else
    echo "bench.sh: not installed: ${missing[*]} (run as root to install them; carrying on)" >&2
  fi
fi

# Debian's python3 has matplotlib and torch; a python3 earlier on PATH (pyenv,
# venv) may not.
python=/usr/bin/python3
[[ -x $python ]] || python="$(command -v python3)"

# ---- 2. Build (Release, the library's default SIMD implementations) -------
say "Building simdrop_bench (Release) in ${build#"$root"/}"
generator=()
if [[ ! -f $build/CMakeCache.txt ]] && command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
# Only what the benchmark needs: the library (SIMD on, as by default), simdrop_bench
# and, unless SIMDROP_BENCH_PYTHON=0, the Python package.
python_flag=OFF
targets=(simdrop_bench)
if [[ $with_python == 1 ]]; then python_flag=ON; targets+=(simdrop_python_package); fi
[[ $python_only -eq 1 ]] && targets=(simdrop_python_package)
cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DSIMDROP_BUILD_BENCHMARKS=ON \
  -DSIMDROP_BUILD_TESTS=OFF -DSIMDROP_BUILD_EXAMPLES=OFF -DSIMDROP_BUILD_PYTHON=$python_flag >/dev/null
cmake --build "$build" --target "${targets[@]}" -j "${SIMDROP_BENCH_JOBS:-$(nproc)}"
bench="$build/bench/simdrop_bench"
build_seconds=$((SECONDS - started))

run_python_rows() {  # <all-threads> <output json>
  say "Timing simdrop's Python package against PyTorch and numpy (threads $threads)"
  PYTHONPATH="$build/python" "$python" "$root/bench/peers/simdrop_python.py" --threads "$threads" \
    --all-threads "$1" "${python_args[@]}" --out "$2"
}

if [[ $python_only -eq 1 ]]; then
  mkdir -p "$results"
  python_started=$SECONDS
  run_python_rows "$(nproc)" "$results/python.json"
  "$python" "$root/bench/report.py" --python "$results/python.json" --python-only --out-dir "$results"
  echo "bench.sh: build ${build_seconds} s, Python rows $((SECONDS - python_started)) s; results in ${results#"$root"/}/"
  exit 0
fi

# ---- 3. The suite ----------------------------------------------------------
mkdir -p "$results"
json="$results/simdrop_bench.json"
log="$results/simdrop_bench.log"
say "Running simdrop_bench ($sizes floats, threads $threads, $repetitions repetition(s) of >= ${min_time} s); full output in ${log#"$root"/}"
suite_started=$SECONDS
"$bench" \
  --simdrop_sizes="$sizes" --simdrop_threads="$threads" --simdrop_extra_sizes="$extra_sizes" \
  --benchmark_min_time="$min_time" --benchmark_repetitions="$repetitions" \
  --benchmark_report_aggregates_only=true \
  --benchmark_out="$json" --benchmark_out_format=json \
  "${extra_args[@]}" 2>&1 | tee "$log" | {
    # One line per row on the terminal (the median, or the run itself without repetitions).
    if [[ $repetitions -gt 1 ]]; then grep --line-buffered -E '_median |^simdrop_|^Run on' || true
    else grep --line-buffered -E '/real_time |^simdrop_|^Run on' || true; fi
  }
suite_seconds=$((SECONDS - suite_started))

# ---- 4. PyTorch beside it ---------------------------------------------------
all_threads="$("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["context"].get("simdrop_all_threads", 0))' "$json")"
say "Timing PyTorch's CPU dropout (threads 1 and $all_threads)"
torch_started=$SECONDS
"$python" "$root/bench/peers/torch_dropout.py" --sizes "$sizes" --threads "$threads" --all-threads "$all_threads" \
  --keep-prob 0.9 --repeats "$torch_repeats" --min-time "$torch_min_time" --out "$results/torch_dropout.json"
torch_seconds=$((SECONDS - torch_started))

# ---- 5. The Python package beside them ---------------------------------------
python_report=()
python_seconds=0
if [[ $with_python == 1 ]]; then
  python_started=$SECONDS
  run_python_rows "$all_threads" "$results/python.json"
  python_report=(--python "$results/python.json")
  python_seconds=$((SECONDS - python_started))
fi

# ---- 6. The report -----------------------------------------------------------
say "Report"
"$python" "$root/bench/report.py" --gbench "$json" --peer "$results/torch_dropout.json" --out-dir "$results" \
  --command "$command_line" --suite-seconds "$suite_seconds" "${python_report[@]}"

echo
echo "bench.sh: build ${build_seconds} s, simdrop_bench ${suite_seconds} s, PyTorch ${torch_seconds} s, Python ${python_seconds} s, total $((SECONDS - started)) s"
echo "bench.sh: results in ${results#"$root"/}/ (simdrop_bench.json, torch_dropout.json, report.md, throughput.png)"
