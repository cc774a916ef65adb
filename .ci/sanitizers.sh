#!/usr/bin/env bash
# Sanitizer stages of CI (issue 6), run from the repository root:
#
#   asan  g++, -fsanitize=address,undefined, abort on the first report: the library
#         and the whole test suite (ctest), OpenMP (libgomp) included.
#   tsan  clang + libomp, -fsanitize=thread: the threaded tests (Catch2 tag [threads]
#         of simdrop_tests, and the first-use race program in fresh processes).
#   fuzz  clang, libFuzzer + ASan + UBSan: the C API harness for FUZZ_SECONDS (60)
#         on a scratch copy of the committed corpus tests/fuzz/corpus/, with a fixed
#         mutation seed FUZZ_SEED (1), so that a CI verdict does not depend on the
#         draw: the same binary and corpus walk the same inputs, and a finding
#         replays. Exploratory campaigns set FUZZ_SEED=0 (a fresh seed per run) and
#         a longer FUZZ_SECONDS; what they find goes into the committed corpus.
#
# Usage: .ci/sanitizers.sh [asan] [tsan] [fuzz]      (no argument: all three)
# Environment: JOBS (2), FUZZ_SECONDS (60), FUZZ_SEED (1), SANITIZER_BUILD_ROOT (build-sanitizers),
#              CMAKE_GENERATOR (CMake's default if unset), SIMDROP_SANITIZER_CMAKE_ARGS
#              (extra configure arguments for every stage, e.g. -DSIMDROP_SIMD=OFF).
# Needs: cmake, g++, clang, libclang-rt-14-dev (sanitizer and libFuzzer runtimes),
#        libomp-dev, plus the test suite's own dependencies.
#
# ThreadSanitizer and OpenMP, without a suppression file: libgomp is not
# instrumented and gives false reports, hence clang + LLVM's libomp. libomp's own
# synchronisation (fork/join barriers, its reused worker threads) is invisible to
# TSan unless the OMPT tool Archer annotates it: libomp loads Archer (libarcher.so,
# shipped with libomp-dev) by itself when the program is built with
# -fsanitize=thread, and this stage checks that it did (ARCHER_OPTIONS=verbose=1).
# Archer then asks for TSAN_OPTIONS=ignore_noninstrumented_modules=1, so that the
# uninstrumented libomp's internal accesses (its pthread_mutex use) are not
# reported. Measured on Debian 12 / LLVM 14: without Archer every library call
# that uses two threads is reported (the worker's writes vs the next region);
# without ignore_noninstrumented_modules, a race inside libomp's lock; with both,
# nothing -- while a deliberate race in a parallel region is still reported.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo"

jobs=${JOBS:-2}
fuzz_seconds=${FUZZ_SECONDS:-60}
fuzz_seed=${FUZZ_SEED:-1}
root=${SANITIZER_BUILD_ROOT:-$repo/build-sanitizers}
extra_args=()
if [[ -n "${SIMDROP_SANITIZER_CMAKE_ARGS:-}" ]]; then
  read -r -a extra_args <<<"$SIMDROP_SANITIZER_CMAKE_ARGS"
fi
stages=("$@")
[[ ${#stages[@]} -eq 0 ]] && stages=(asan tsan fuzz)

# SIMDROP_KERNEL_VARIANTS=lean: about a third of the kernel instances (entries.inc, "Which
# instances exist"); the rest go through the composed entries, which these builds test, while
# the native stage tests every instance. It keeps the sanitizer builds short (issue 25).
# -g1 (line tables: enough for the reports' stack traces) instead of -g, and the kernels at
# -O1: the ASan build of the lean set took 844 s with -g and -O3 kernels, 672 s with -g1.
common_cmake=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIMDROP_BUILD_TESTS=ON -DSIMDROP_BUILD_BENCHMARKS=OFF
              -DSIMDROP_BUILD_EXAMPLES=OFF -DSIMDROP_KERNEL_VARIANTS=lean -DSIMDROP_KERNEL_OPTIMIZATION=-O1
              "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG"
              "${extra_args[@]}")

log() { printf '\n=== sanitizers: %s\n' "$*"; }
declare -A stage_seconds=()

# configure <build dir> <C compiler> <C++ compiler> <sanitizer flags> <linker flags> [cmake args...]
configure() {
  local dir=$1 cc=$2 cxx=$3 flags=$4 link=$5
  shift 5
  cmake -S "$repo" -B "$dir" "${common_cmake[@]}" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
    "-DCMAKE_C_FLAGS=$flags" "-DCMAKE_CXX_FLAGS=$flags" \
    "-DCMAKE_EXE_LINKER_FLAGS=$link" "-DCMAKE_SHARED_LINKER_FLAGS=$link" "$@"
}

stage_asan() {
  local dir=$root/asan
  # -fno-sanitize-address-use-after-scope: g++ otherwise poisons and unpoisons the
  # stack slot of every xsimd register temporary at each scope, which makes the
  # SIMD kernels ~40x slower (AVX-512 mask: 88 ns/element instead of 2.3) and the
  # suite too slow for CI. Use-after-scope stays checked by the fuzz stage (clang).
  local flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
  flags+=" -fno-sanitize-address-use-after-scope"
  log "asan: g++ -fsanitize=address,undefined, whole test suite"
  configure "$dir" gcc g++ "$flags" "-fsanitize=address,undefined"
  cmake --build "$dir" -j "$jobs"
  # abort_on_error: a report is a crash (ctest sees it); detect_leaks: LeakSanitizer too.
  # The packaging tests (label "package") only rebuild and reinstall the library
  # (minutes under ASan); the native stage runs them. The guard-page sweep runs
  # its reduced set here (its full set is the native stage's).
  export ASAN_OPTIONS=abort_on_error=1:halt_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1
  export UBSAN_OPTIONS=abort_on_error=1:halt_on_error=1:print_stacktrace=1
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 1200 -LE "package|guard_pages"
  OMP_WAIT_POLICY=passive "$dir/tests/simdrop_guard_pages" --reduced
}

stage_tsan() {
  local dir=$root/tsan
  local flags="-fsanitize=thread -fno-omit-frame-pointer"
  log "tsan: clang + libomp -fsanitize=thread, threaded tests"
  # clang on Debian uses LLVM's libomp for -fopenmp (FindOpenMP picks -fopenmp=libomp
  # and /usr/lib/llvm-14/lib/libomp.so); the check below fails loudly if it did not.
  configure "$dir" clang clang++ "$flags" "-fsanitize=thread"
  if ! grep -q 'libomp' "$dir/CMakeCache.txt"; then
    echo "sanitizers: the TSan build did not pick LLVM's libomp (see OpenMP_* in $dir/CMakeCache.txt)" >&2
    return 1
  fi
  cmake --build "$dir" -j "$jobs" --target simdrop_tests simdrop_first_use_race
  local tests=$dir/tests/simdrop_tests race=$dir/tests/fuzz/simdrop_first_use_race
  export TSAN_OPTIONS="halt_on_error=1 abort_on_error=1 second_deadlock_stack=1 history_size=4 ignore_noninstrumented_modules=1"
  # Archer must be loaded: without it every parallel region would be reported.
  local archer_log
  archer_log=$(ARCHER_OPTIONS=verbose=1 "$race" 2 2>&1)
  if ! grep -q 'Archer detected OpenMP application with TSan' <<<"$archer_log"; then
    printf '%s\n' "$archer_log" >&2
    echo "sanitizers: Archer (libarcher.so) was not loaded by libomp; TSan cannot see OpenMP's synchronisation" >&2
    return 1
  fi
  "$tests" "[threads]" --durations yes
  "$race" 8
  SIMDROP_ISA=scalar "$race" 8
  SIMDROP_ISA=no-such-isa "$race" 8
}

stage_fuzz() {
  local dir=$root/fuzz
  local flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
  log "fuzz: clang libFuzzer + ASan + UBSan, ${fuzz_seconds} s on the committed corpus, seed ${fuzz_seed}"
  configure "$dir" clang clang++ "$flags" "-fsanitize=address,undefined" -DSIMDROP_FUZZ=ON
  cmake --build "$dir" -j "$jobs" --target simdrop_fuzz_c_api
  local scratch=$root/fuzz-corpus artifacts=$root/fuzz-artifacts
  rm -rf "$scratch" && mkdir -p "$scratch" "$artifacts"
  cp tests/fuzz/corpus/* "$scratch/"
  ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$dir/tests/fuzz/simdrop_fuzz_c_api" "$scratch" -max_total_time="$fuzz_seconds" -seed="$fuzz_seed" -timeout=60 \
    -rss_limit_mb=4096 -max_len=512 -print_final_stats=1 -artifact_prefix="$artifacts/"
  echo "sanitizers: fuzz corpus grew from $(ls tests/fuzz/corpus | wc -l) to $(ls "$scratch" | wc -l) inputs"
}

for stage in "${stages[@]}"; do
  case "$stage" in
    asan | tsan | fuzz) ;;
    *) echo "sanitizers: unknown stage '$stage' (asan, tsan, fuzz)" >&2; exit 2 ;;
  esac
done

# Every stage runs (one failure does not hide the others); the script fails if any did.
status=0
declare -A stage_result=()
for stage in "${stages[@]}"; do
  start=$(date +%s)
  # A subshell outside any `if`, so that `set -e` stays in force inside the stage.
  set +e
  ( set -e; "stage_$stage" )
  rc=$?
  set -e
  stage_seconds[$stage]=$(( $(date +%s) - start ))
  if [[ $rc -eq 0 ]]; then stage_result[$stage]=ok; else stage_result[$stage]="FAILED ($rc)"; status=1; fi
  log "$stage: ${stage_result[$stage]} in ${stage_seconds[$stage]} s"
done

log "summary"
for stage in "${stages[@]}"; do
  printf '  %-5s %-12s %5d s\n' "$stage" "${stage_result[$stage]}" "${stage_seconds[$stage]}"
done
exit $status
