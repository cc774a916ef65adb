#!/usr/bin/env bash
# Installs everything simdrop's build, tests, aarch64 cross tests, sanitizer
# stages and benchmark report need, on Debian 12 (or a close Ubuntu):
#
#   cmake ninja-build g++          the build
#   libxsimd-dev                   SIMD kernels (header-only xsimd 8.1)
#   catch2 librandom123-dev        the test suite (Catch2 2.13, Random123 for Philox checks)
#   libbenchmark-dev               the benchmark suite (Google Benchmark)
#   libomp-dev clang libclang-rt-14-dev   OpenMP for clang, sanitizer and libFuzzer runtimes
#   g++-aarch64-linux-gnu qemu-user       aarch64 cross build, run under qemu-aarch64
#   pkgconf                        the pkg-config consumer test
#   valgrind                       a CPU without AVX-512 (first_use_without_avx512), instruction counts
#   dieharder                      the command-line tool's statistical smoke test (tests/cli)
#   libjemalloc2                   the benchmark report's warm-allocator PyTorch rows (bench/peers/torch213.py)
#
# The Python side (numpy, torch 2.13.0 CPU, pybind11, scikit-build-core, pytest,
# hypothesis, atheris, scikit-learn, matplotlib) comes from PyPI into a venv:
# scripts/python-env.sh, pinned by python/requirements-test.txt. It needs only a
# CPython 3.9+ with venv as `python3` (this project's machines: 3.11.7).
#
# Nothing is done when every package is already installed (so it works offline
# and without root on a prepared machine). Otherwise it runs apt-get update and
# apt-get install -y --no-install-recommends, as root or through sudo -n.
# SIMDROP_SKIP_DEPS=1 skips this script entirely.
set -euo pipefail

packages=(
  cmake ninja-build g++
  libxsimd-dev
  catch2 librandom123-dev
  libbenchmark-dev
  libomp-dev clang libclang-rt-14-dev
  g++-aarch64-linux-gnu qemu-user
  valgrind pkgconf
  dieharder
  libjemalloc2
)

if [[ "${SIMDROP_SKIP_DEPS:-0}" == "1" ]]; then
  echo "install-deps.sh: SIMDROP_SKIP_DEPS=1, not checking packages"
  exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps.sh: not a Debian/Ubuntu system (no dpkg-query/apt-get); install these yourself:" >&2
  echo "  ${packages[*]}" >&2
  exit 1
fi

missing=()
for package in "${packages[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)"
  [[ "$status" == "installed" ]] || missing+=("$package")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps.sh: all ${#packages[@]} packages are installed"
  exit 0
fi

echo "install-deps.sh: installing ${missing[*]}"
if [[ "$(id -u)" -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "install-deps.sh: these packages are missing and this is not root (and sudo -n is not available):" >&2
  echo "  ${missing[*]}" >&2
  echo "Run as root: apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update
"${as_root[@]}" apt-get install -y --no-install-recommends "${packages[@]}"
