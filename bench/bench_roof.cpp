// The roof: what it costs just to read n floats and write n floats. Two copies
// of the same buffers the dropout rows use, at the same size and thread count:
//   copy/memcpy  std::memcpy (normal stores; glibc switches to non-temporal
//                stores only above its x86_non_temporal_threshold tunable)
//   copy/stream  a loop of non-temporal (streaming) stores, _mm_stream_ps, which
//                skip the read-for-ownership of the destination lines: the
//                higher roof out of cache, the lower one in cache.
// With several threads the buffer is split into one contiguous chunk per
// OpenMP thread, as simdrop splits a call.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>

#if defined(__SSE__) || defined(_M_X64) || defined(__x86_64__)
#include <xmmintrin.h>
#define SIMDROP_BENCH_HAVE_STREAM 1
#endif
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "bench_common.hpp"

namespace {

using copy_range = void (*)(const float* src, float* dst, size_t n);

void memcpy_range(const float* src, float* dst, size_t n) { std::memcpy(dst, src, n * sizeof(float)); }

void stream_range(const float* src, float* dst, size_t n) {
#if defined(SIMDROP_BENCH_HAVE_STREAM)
  size_t i = 0;
  // Chunks start on 64-byte boundaries of 64-byte aligned buffers; the head loop
  // only matters for a caller that passes something else.
  for (; i < n && (reinterpret_cast<uintptr_t>(dst + i) & 15) != 0; ++i) dst[i] = src[i];
  for (; i + 16 <= n; i += 16) {
    const __m128 a = _mm_loadu_ps(src + i), b = _mm_loadu_ps(src + i + 4);
    const __m128 c = _mm_loadu_ps(src + i + 8), d = _mm_loadu_ps(src + i + 12);
    _mm_stream_ps(dst + i, a);
    _mm_stream_ps(dst + i + 4, b);
    _mm_stream_ps(dst + i + 8, c);
    _mm_stream_ps(dst + i + 12, d);
  }
  for (; i < n; ++i) dst[i] = src[i];
  _mm_sfence();  // streaming stores are weakly ordered: finish them before the call returns
#else
  std::memcpy(dst, src, n * sizeof(float));
#endif
}

// One contiguous chunk per thread, cut at multiples of 16 floats (64 bytes).
void threaded_copy(copy_range body, const float* src, float* dst, size_t n, int threads) {
  if (threads <= 1) {
    body(src, dst, n);
    return;
  }
#if defined(_OPENMP)
#pragma omp parallel num_threads(threads)
  {
    const size_t count = size_t(omp_get_num_threads()), t = size_t(omp_get_thread_num());
    const size_t per = (n / count + 15) / 16 * 16;
    const size_t begin = std::min(n, t * per), end = t + 1 == count ? n : std::min(n, begin + per);
    if (begin < end) body(src + begin, dst + begin, end - begin);
  }
#else
  body(src, dst, n);
#endif
}

void add_copy_rows(const char* name, copy_range body, size_t n, int threads) {
  simdrop_bench::add_row(name, n, threads, 8.0, [=](benchmark::State& state) {
    simdrop_bench::buffers& b = simdrop_bench::buffers_for(n);
    for (auto _ : state) {
      threaded_copy(body, b.x, b.y, n, threads);
      benchmark::DoNotOptimize(b.y);
      benchmark::ClobberMemory();
    }
  });
}

void register_roof(const simdrop_bench::config& cfg) {
  for (size_t n : cfg.sizes)
    for (int t : cfg.threads) {
      add_copy_rows("copy/memcpy", memcpy_range, n, t);
      add_copy_rows("copy/stream", stream_range, n, t);
    }
}

}  // namespace

namespace simdrop_bench {

double paired_copy_gbps(size_t n, int threads, double seconds) {
  buffers& b = buffers_for(n);
  double best = 0;
  for (copy_range body : {memcpy_range, stream_range}) {
    // At least three calls, and about half the time for each copy.
    size_t calls = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0;
    while (calls < 3 || elapsed < seconds / 2) {
      threaded_copy(body, b.x, b.y, n, threads);
      benchmark::ClobberMemory();
      ++calls;
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    best = std::max(best, double(n) * double(calls) * 8.0 / 1e9 / elapsed);
  }
  return best;
}

}  // namespace simdrop_bench

SIMDROP_BENCH_REGISTRAR(0, register_roof);
