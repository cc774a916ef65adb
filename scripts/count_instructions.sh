#!/usr/bin/env bash
# Instructions per element of each implementation valgrind can run (scalar,
# avx2), for every generator and threshold width: a count that does not drift
# with the machine's load, unlike a time. A report, not a test.
#
# For each row, bench/instruction_driver.cpp makes 2 and then 12 calls of
# simdrop_forward_f32 (32K elements, one thread, keep_prob 0.9, a new stream
# per call) under `valgrind --tool=callgrind`; the row is the difference of
# the two totals divided by 10 x 32K, which cancels start-up and first-call
# work. valgrind cannot run AVX-512 code (and hides it from CPUID), so the
# avx512 rows stay timed only (scripts/bench.sh).
#
#   scripts/count_instructions.sh            the table of the 1-D forward, then the
#                                            other calls on avx2 (Philox 32-bit)
# Environment: SIMDROP_COUNT_BUILD (default build-release, configured as
# scripts/bench.sh does), SIMDROP_COUNT_N (32768).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SIMDROP_COUNT_BUILD:-$root/build-release}"
n="${SIMDROP_COUNT_N:-32768}"
command -v valgrind >/dev/null || { echo "count_instructions.sh: valgrind not found (Debian: valgrind)" >&2; exit 1; }
bash "$root/scripts/install-deps.sh" >/dev/null

generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DSIMDROP_BUILD_TESTS=OFF \
    -DSIMDROP_BUILD_EXAMPLES=OFF >/dev/null
fi
cmake --build "$build" --target simdrop_instruction_driver >/dev/null
driver="$build/bench/simdrop_instruction_driver"

# total <isa> <generator> <bits> <calls> <call>: callgrind's instruction total.
total() {
  local out
  out=$(mktemp)
  if ! valgrind --tool=callgrind --callgrind-out-file="$out" "$driver" "$1" "$2" "$3" "$n" "$4" "$5" \
      >/dev/null 2>&1; then
    rm -f "$out"
    return 1
  fi
  callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}'
  rm -f "$out"
}

# per_element <isa> <generator> <bits> <call>: instructions per element, or "-".
per_element() {
  local two twelve
  two=$(total "$1" "$2" "$3" 2 "$4") && twelve=$(total "$1" "$2" "$3" 12 "$4") || { echo "-"; return; }
  awk -v a="$two" -v b="$twelve" -v n="$n" 'BEGIN { printf "%.2f", (b - a) / (10 * n) }'
}

cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
family=$(grep -m1 "cpu family" /proc/cpuinfo | cut -d: -f2 | tr -d ' ')
model=$(grep -m1 "^model\s*:" /proc/cpuinfo | cut -d: -f2 | tr -d ' ')
echo "Instructions per element under callgrind, $n elements, one thread ($(valgrind --version), $cpu, family $family model $model, $(date -u +%Y-%m-%d))"
echo
echo "| forward, keep_prob 0.9 | scalar | avx2 |"
echo "|---|---:|---:|"
for g in philox xoshiro; do
  for bits in 32 16 8; do
    s=$(per_element scalar "$g" "$bits" forward)
    [[ "$s" == "-" ]] && continue  # a width this build does not have
    a=$(per_element avx2 "$g" "$bits" forward)
    echo "| $g $bits-bit | $s | $a |"
  done
done
echo
echo "| other calls on avx2 (Philox 32-bit) | instructions per element |"
echo "|---|---:|"
for call in forward_mask mask backward_mask fill f16 bf16 f64 2d bias; do
  echo "| $call | $(per_element avx2 philox 32 "$call") |"
done
