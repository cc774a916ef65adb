#!/bin/sh
# A dieharder smoke test of `simdrop stream` (the full runs are in
# docs/quality.md): seven quick tests on the words of each generator, fixed
# seed and stream, each test reading the stream from its start.
#
#   usage: dieharder_smoke.sh <dieharder> <the simdrop command, emulator first if any>
#
# The tests (dieharder -d): 0 birthdays, 4 bitstream, 8 count-the-1s (stream),
# 15 runs (2 p-values), 100 STS monobit, 204 RGB Kolmogorov-Smirnov, 206 DAB
# DCT: 8 assessed p-values per generator, 16 in all, about 10 s natively.
#
# False-failure odds: dieharder assesses a p-value FAILED when p < 1e-6 or
# p > 1 - 1e-6 (its default -X 0.000001, both tails), so a correct generator
# fails one p-value with probability 2e-6, and one of these 16 with
# 1 - (1 - 2e-6)^16 = 3.2e-5, about 1 in 31,000. WEAK (p < 0.005 or
# > 0.995, 1 % per p-value, 15 % that one of 16 is WEAK) is printed but does
# not fail the test. The seed and stream are fixed and the words are fixed by
# the stream contract, so the verdict does not change from run to run: the
# odds above are those of having picked an unlucky seed, and a failure means
# that the words changed or dieharder did.
set -u
dieharder=$1
shift
failed=0
for generator in philox xoshiro; do
  for test in 0 4 8 15 100 204 206; do
    results=$("$@" stream --generator "$generator" --seed 0x5eed --stream 26 | "$dieharder" -g 200 -d "$test" |
      grep -E '\|[[:space:]]*(PASSED|WEAK|FAILED)[[:space:]]*$')
    if [ -z "$results" ]; then
      echo "dieharder -d $test on $generator: no result (did dieharder or the stream fail?)"
      failed=1
      continue
    fi
    echo "$generator: $results"
    if echo "$results" | grep -q FAILED; then failed=1; fi
  done
done
exit $failed
