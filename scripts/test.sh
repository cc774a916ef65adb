#!/usr/bin/env bash
# Builds and runs every simdrop test, installing its own dependencies first.
# This is the README's test command and what CI (.ci/run) runs:
#
#   1. deps     scripts/install-deps.sh (apt-get, only when something is missing)
#   2. native   Release build with -Wall -Wextra in build-test/, then the whole
#               ctest suite (unit, contract, statistics, C API, packaging, the command-line tool)
#   3. python   scripts/test-python.sh: a venv with torch 2.13.0 (CPU) from PyPI and the disk,
#               pip install --no-build-isolation ., the pytest suite (checkpointing, torch.compile,
#               torch.export, opcheck, gloo groups), both examples, the atheris harness, the
#               wheel in a second venv, and the numpy module without torch
#   4. aarch64  cross build with cmake/toolchains/aarch64-linux-gnu.cmake in
#               build-aarch64/, then the whole ctest suite under qemu-aarch64
#               (CMAKE_CROSSCOMPILING_EMULATOR), where "neon" is the active implementation
#   5. sanitizers  .ci/sanitizers.sh (ASan+UBSan, TSan, libFuzzer), when it exists
#
# Every stage runs even when an earlier one failed (except when the dependencies
# cannot be installed); a summary is printed at the end, and the exit status is
# nonzero if any stage failed.
#
# Options:
#   --only STAGE[,STAGE]   run only these of: native, python, aarch64, sanitizers (deps always runs)
#   --skip STAGE[,STAGE]   skip these
#   --werror               add -Werror to the native and aarch64 builds
#   --clean                delete the build folders first
#   -j N                   build and ctest parallelism (default: number of CPUs, or $SIMDROP_TEST_JOBS)
# Environment: SIMDROP_TEST_BUILD_ROOT (default: the repository root) holds
# build-test/ and build-aarch64/; SIMDROP_WERROR=1 is --werror; SIMDROP_SKIP_DEPS=1
# skips the package check.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_root="${SIMDROP_TEST_BUILD_ROOT:-$root}"
jobs="${SIMDROP_TEST_JOBS:-$(nproc 2>/dev/null || echo 2)}"
werror="${SIMDROP_WERROR:-0}"
clean=0
only=""
skip=""

usage() { sed -n '2,29p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --only) only="${2:?--only needs a stage list}"; shift ;;
    --skip) skip="${2:?--skip needs a stage list}"; shift ;;
    --werror) werror=1 ;;
    --clean) clean=1 ;;
    -j) jobs="${2:?-j needs a number}"; shift ;;
    -j*) jobs="${1#-j}" ;;
    -h|--help) usage; exit 0 ;;
    *) echo "test.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
for stage in ${only//,/ } ${skip//,/ }; do
  case "$stage" in
    native|python|aarch64|sanitizers) ;;
    *) echo "test.sh: unknown stage '$stage' (native, python, aarch64, sanitizers)" >&2; exit 2 ;;
  esac
done

wanted() {
  local stage="$1"
  if [[ -n "$only" && ",$only," != *",$stage,"* ]]; then return 1; fi
  if [[ ",$skip," == *",$stage,"* ]]; then return 1; fi
  return 0
}

native_build="$build_root/build-test"
cross_build="$build_root/build-aarch64"
toolchain="$root/cmake/toolchains/aarch64-linux-gnu.cmake"
warning_flags="-Wall -Wextra"
[[ "$werror" == "1" ]] && warning_flags+=" -Werror"
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
export CMAKE_BUILD_PARALLEL_LEVEL="$jobs"  # also read by the packaging tests' consumer builds

started_all=$SECONDS
summary=()
failed=0

say() { printf '\n==> %s\n' "$*"; }

# run_stage <name> <function>: runs the function in a subshell, records PASS/FAIL
# and the time taken. The stage functions chain their commands with || return
# (set -e would be ignored where run_stage is called in a condition).
run_stage() {
  local name="$1" fn="$2" start=$SECONDS status
  say "stage $name"
  ( "$fn" )
  status=$?
  local took=$((SECONDS - start))
  if [[ $status -eq 0 ]]; then
    summary+=("$(printf '%-11s PASS  %5ss' "$name" "$took")")
  else
    summary+=("$(printf '%-11s FAIL  %5ss  (exit %s)' "$name" "$took" "$status")")
    failed=1
  fi
  return $status
}

skipped() { summary+=("$(printf '%-11s skip  %s' "$1" "$2")"); }

print_summary() {
  say "summary ($((SECONDS - started_all))s in all, $jobs jobs)"
  local line
  for line in "${summary[@]}"; do echo "  $line"; done
  if [[ $failed -eq 0 ]]; then echo "test.sh: ALL STAGES PASSED"; else echo "test.sh: FAILED"; fi
}

deps() { bash "$root/scripts/install-deps.sh"; }

native() {
  if [[ $clean -eq 1 ]]; then rm -rf "$native_build" || return; fi
  cmake -S "$root" -B "$native_build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS="$warning_flags" -DCMAKE_CXX_FLAGS="$warning_flags" || return
  cmake --build "$native_build" --parallel "$jobs" || return
  ctest --test-dir "$native_build" --output-on-failure --no-tests=error --parallel "$jobs"
}

python_stage() {
  if [[ $clean -eq 1 ]]; then rm -rf "$root/build-python" || return; fi
  bash "$root/scripts/test-python.sh"
}

aarch64() {
  command -v aarch64-linux-gnu-g++ >/dev/null || { echo "aarch64-linux-gnu-g++ not found" >&2; return 1; }
  command -v qemu-aarch64 >/dev/null || { echo "qemu-aarch64 not found (package qemu-user)" >&2; return 1; }
  if [[ $clean -eq 1 ]]; then rm -rf "$cross_build" || return; fi
  # Debian ships Google Benchmark for the host only: no benchmarks in the cross build.
  cmake -S "$root" -B "$cross_build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DSIMDROP_BUILD_BENCHMARKS=OFF \
    -DCMAKE_C_FLAGS="$warning_flags" -DCMAKE_CXX_FLAGS="$warning_flags" || return
  cmake --build "$cross_build" --parallel "$jobs" || return
  ctest --test-dir "$cross_build" --output-on-failure --no-tests=error --parallel "$jobs"
}

sanitizers() { (cd "$root" && JOBS="$jobs" bash .ci/sanitizers.sh); }

say "simdrop tests in $root (builds in $build_root, $jobs jobs)"
if ! run_stage deps deps; then
  print_summary
  echo "test.sh: cannot go on without the dependencies" >&2
  exit 1
fi
if wanted native; then run_stage native native; else skipped native "not selected"; fi
if wanted python; then run_stage python python_stage; else skipped python "not selected"; fi
if wanted aarch64; then run_stage aarch64 aarch64; else skipped aarch64 "not selected"; fi
if ! wanted sanitizers; then
  skipped sanitizers "not selected"
elif [[ -f "$root/.ci/sanitizers.sh" ]]; then
  run_stage sanitizers sanitizers
else
  skipped sanitizers ".ci/sanitizers.sh does not exist"
fi
print_summary
exit $failed
