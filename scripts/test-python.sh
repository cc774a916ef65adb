#!/usr/bin/env bash
# The Python stage of the test command (scripts/test.sh --only python): simdrop
# and simdrop.torch as a user installs them, against torch 2.13.0 (CPU).
#
#   1. env       scripts/python-env.sh: build-python/venv from python/requirements-test.txt,
#                then pip install --no-build-isolation . (one libsimdrop.so in the package)
#   2. pytest    tests/python/: numpy and torch APIs against the independent reference,
#                checkpointing, torch.compile / torch.export / opcheck, parity with torch.nn,
#                hypothesis properties, shards and the gloo groups (1-4 processes on 127.0.0.1)
#   3. examples  examples/python/digits_mlp.py (2 epochs) and digits_ddp.py (2 processes)
#   4. fuzz      tests/python/fuzz_api.py (atheris) over the committed corpus, a fixed number of runs
#   5. wheel     pip wheel --no-build-isolation . installed into a second fresh venv with the same
#                torch, and imported from outside the source tree (tests/python/install_check.py)
#   6. no torch  a venv without torch: the numpy module installs alone, and import simdrop.torch
#                raises an ImportError that says what to install
#
# Every step runs even when an earlier one failed; the exit status is nonzero if any failed.
# Environment: SIMDROP_PYTEST_ARGS (extra pytest arguments, e.g. -k checkpoint), SIMDROP_FUZZ_RUNS (2000).
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/build-python"
failed=()
step() { printf '\n--- python: %s\n' "$*"; }

step "environment and pip install --no-build-isolation ."
if ! py="$(bash "$root/scripts/python-env.sh" | tail -n 1)"; then
  echo "test-python.sh: the environment could not be made" >&2
  exit 1
fi
"$py" -c 'import torch, simdrop, simdrop.torch; print("simdrop", simdrop.__version__, "torch", torch.__version__, "isa", simdrop.active_isa())'

export PYTHONDONTWRITEBYTECODE=1
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"

step "pytest tests/python"
# shellcheck disable=SC2086
(cd "$root/tests/python" && "$py" -m pytest -q -p no:cacheprovider ${SIMDROP_PYTEST_ARGS:-} .) || failed+=(pytest)

step "examples"
(cd "$out" && "$py" "$root/examples/python/digits_mlp.py" --epochs 2 --repeats 1 | tee digits_mlp.txt \
  && grep -Eq "simdrop.torch.Dropout +[0-9.]+ +[0-9.]+" digits_mlp.txt) || failed+=(digits_mlp)
(cd "$out" && "$py" "$root/examples/python/digits_ddp.py" --processes 0,2 --steps 15 --timeout 200 | tee digits_ddp.txt \
  && grep -q "identical masks at every step: yes (15 of 15 steps)" digits_ddp.txt) || failed+=(digits_ddp)

step "fuzz (atheris, fixed runs over the committed corpus)"
rm -rf "$out/fuzz-corpus" && cp -r "$root/tests/python/fuzz_corpus" "$out/fuzz-corpus" \
  && "$py" "$root/tests/python/fuzz_api.py" -runs="${SIMDROP_FUZZ_RUNS:-2000}" -seed=1 "$out/fuzz-corpus" \
  || failed+=(fuzz)

step "wheel into a second fresh venv"
(
  set -e
  rm -rf "$out/wheel" "$out/venv-wheel"
  "$py" -m pip wheel --quiet --disable-pip-version-check --no-build-isolation --no-deps -w "$out/wheel" "$root"
  python3 -m venv "$out/venv-wheel"
  "$out/venv-wheel/bin/python" -m pip install --quiet --disable-pip-version-check torch==2.13.0 \
    "$(grep -E '^numpy==' "$root/python/requirements-test.txt")"
  "$out/venv-wheel/bin/python" -m pip install --quiet --disable-pip-version-check "$out"/wheel/simdrop-*.whl
  site="$("$out/venv-wheel/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')"
  cd /tmp && "$out/venv-wheel/bin/python" "$root/tests/python/install_check.py" "$site"
  # The console script runs the wheel's own command: its mask hash equals the numpy module's.
  if [[ -d "$root/tools" ]]; then
    got="$("$out/venv-wheel/bin/simdrop" hash --n 1000 --keep-prob 0.5 --seed 7 --stream 3)"
    want="$("$out/venv-wheel/bin/python" -c 'import hashlib, simdrop
print(hashlib.sha256(simdrop.mask(1000, 0.5, 7, stream=3).tobytes()).hexdigest())')"
    echo "simdrop hash from the wheel's console script: $got (numpy module: $want)"
    [[ -n "$got" && "$got" == "$want" ]]
  fi
) || failed+=(wheel)

step "numpy module alone (a venv without torch)"
(
  set -e
  rm -rf "$out/venv-notorch"
  python3 -m venv "$out/venv-notorch"
  grep -E '^(numpy|scikit-build-core|pybind11)==' "$root/python/requirements-test.txt" \
    | xargs "$out/venv-notorch/bin/python" -m pip install --quiet --disable-pip-version-check
  "$out/venv-notorch/bin/python" -m pip install --quiet --disable-pip-version-check --no-build-isolation \
    -Cbuild-dir="$out/notorch" "$root"
  cd /tmp && "$out/venv-notorch/bin/python" "$root/tests/python/notorch_check.py"
) || failed+=(notorch)

if [[ ${#failed[@]} -eq 0 ]]; then
  echo "test-python.sh: all Python steps passed"
  exit 0
fi
echo "test-python.sh: FAILED: ${failed[*]}" >&2
exit 1
