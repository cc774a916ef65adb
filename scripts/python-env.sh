#!/usr/bin/env bash
# Creates (or reuses) the Python environment of the test command and the
# benchmark report, and installs simdrop into it from this source tree:
#
#   <root>/build-python/venv       python3 -m venv, then python/requirements-test.txt
#                                  (torch 2.13.0 CPU, numpy, scikit-build-core, pybind11,
#                                  pytest, hypothesis, atheris, scikit-learn, matplotlib)
#   pip install --no-build-isolation <root>    simdrop and simdrop.torch, built against that torch
#
# Prints the venv's python on its last line. Everything comes from PyPI and the
# torch file on disk; nothing outside the clone is written but pip's own cache.
# Environment: SIMDROP_PYTHON (the interpreter to make the venv from: python3),
# SIMDROP_VENV (the venv folder), SIMDROP_PYTHON_SKIP_INSTALL=1 (do not rebuild simdrop).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${SIMDROP_PYTHON:-python3}"
venv="${SIMDROP_VENV:-$root/build-python/venv}"
requirements="$root/python/requirements-test.txt"

if ! command -v "$python" >/dev/null 2>&1; then
  echo "python-env.sh: $python not found (CPython 3.9 or newer with venv is needed)" >&2
  exit 1
fi
if [[ ! -x "$venv/bin/python" ]]; then
  echo "python-env.sh: creating $venv with $("$python" --version 2>&1)" >&2
  "$python" -m venv "$venv"
fi
stamp="$venv/.requirements"
if ! cmp -s "$requirements" "$stamp" 2>/dev/null; then
  echo "python-env.sh: installing python/requirements-test.txt" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
  cp "$requirements" "$stamp"
fi
if [[ "${SIMDROP_PYTHON_SKIP_INSTALL:-0}" != "1" ]]; then
  echo "python-env.sh: pip install --no-build-isolation $root" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-build-isolation "$root" >&2
fi
echo "$venv/bin/python"
