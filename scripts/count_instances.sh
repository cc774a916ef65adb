#!/usr/bin/env bash
# Counts the kernel template instances per kernel translation unit of a build:
# decide_and_apply<Bits, Mask, Streaming, Layout> (one fused decide-and-apply
# pipeline each, run by run_decisions), philox_rows (column shards), and the
# units' code size, from the object files' symbols (nm -C). What the
# lean-build work of issue 25 measures.
#
#   scripts/count_instances.sh [build-dir]      (default: build-test)
#
# Prints one line per unit (instances, by layout, .text bytes) and the totals.
set -euo pipefail
build="${1:-build-test}"
[[ -d "$build" ]] || { echo "count_instances.sh: no build folder $build" >&2; exit 2; }
mapfile -t objects < <(find "$build"/CMakeFiles -path '*simdrop_isa_*' -name '*.o' | sort)
[[ ${#objects[@]} -gt 0 ]] || { echo "count_instances.sh: no kernel objects under $build" >&2; exit 2; }
total=0
total_text=0
printf '%-22s %9s %9s  %s\n' unit instances text_KiB "instances by layout"
for object in "${objects[@]}"; do
  unit="$(basename "$object" .o)"
  symbols="$(nm -C "$object" | grep -E ' [tTwW] ' || true)"
  # Each pipeline instance keeps one out-of-line member, decide_and_apply<...>::partial (the
  # registers that straddle a range's ends); the rest of it is inlined into its entry.
  pipelines="$(grep -E 'decide_and_apply<.*>::partial\(' <<<"$symbols" || true)"
  count="$(grep -c . <<<"$pipelines" || true)"
  rows="$(grep -cE 'philox_rows<' <<<"$symbols" || true)"
  layouts="$(grep -oE 'decide_and_apply<[^>]*, simdrop::kernels::[a-z0-9_]+::([a-z0-9_]+)' <<<"$pipelines" \
    | sed -E 's/.*:://' | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}' || true)"
  text="$(size -A "$object" | awk '$1 ~ /^\.text/ {s += $2} END {print int(s / 1024)}')"
  [[ "$rows" != 0 ]] && layouts+="philox_rows:$rows"
  printf '%-22s %9s %9s  %s\n' "$unit" "$((count + rows))" "$text" "$layouts"
  total=$((total + count + rows))
  total_text=$((total_text + text))
done
printf '%-22s %9s %9s\n' total "$total" "$total_text"
