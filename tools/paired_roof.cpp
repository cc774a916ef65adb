// The two copies of the roof (see paired_roof.hpp) and their timing.
#include "paired_roof.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(_OPENMP)
#include <omp.h>
#endif

namespace simdrop_cli {
namespace {

enum class copy_kind { plain_memcpy, streaming_stores };

// One thread's part of a copy. Streaming stores skip the read-for-ownership of
// the destination lines: the higher roof out of cache. Where the target has
// none, both kinds are memcpy.
void copy_part(copy_kind kind, const float* src, float* dst, size_t n) {
#if defined(__SSE2__)
  if (kind == copy_kind::streaming_stores) {
    size_t done = 0;
    for (; done < n && reinterpret_cast<uintptr_t>(dst + done) % 16 != 0; ++done) dst[done] = src[done];
    for (; done + 4 <= n; done += 4) {
      const __m128i four = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + done));
      _mm_stream_si128(reinterpret_cast<__m128i*>(dst + done), four);
    }
    std::memcpy(dst + done, src + done, (n - done) * sizeof(float));
    _mm_sfence();  // weakly ordered: complete them before the copy counts as done
    return;
  }
#endif
  (void)kind;
  std::memcpy(dst, src, n * sizeof(float));
}

// One chunk per thread, each a whole number of 64-byte lines.
void copy_on_threads(copy_kind kind, const float* src, float* dst, size_t n, int threads) {
#if defined(_OPENMP)
  if (threads > 1) {
#pragma omp parallel num_threads(threads)
    {
      const size_t parts = size_t(omp_get_num_threads()), part = size_t(omp_get_thread_num());
      const size_t per_part = (n / parts + 15) / 16 * 16;
      const size_t first = std::min(n, part * per_part);
      const size_t last = part + 1 == parts ? n : std::min(n, first + per_part);
      if (first < last) copy_part(kind, src + first, dst + first, last - first);
    }
    return;
  }
#endif
  (void)threads;
  copy_part(kind, src, dst, n);
}

}  // namespace

double paired_copy_gbps(const float* src, float* dst, size_t n, int threads, double seconds) {
  using clock = std::chrono::steady_clock;
  double best = 0;
  for (copy_kind kind : {copy_kind::plain_memcpy, copy_kind::streaming_stores}) {
    size_t copies = 0;
    double elapsed = 0;
    const clock::time_point start = clock::now();
    for (; copies < 3 || elapsed < seconds / 2; ++copies) {
      copy_on_threads(kind, src, dst, n, threads);
      // Keeps the compiler from dropping or merging copies whose result nobody reads.
      __asm__ volatile("" : : "r"(dst) : "memory");
      elapsed = std::chrono::duration<double>(clock::now() - start).count();
    }
    best = std::max(best, double(n) * double(copies) * 8.0 / 1e9 / elapsed);
  }
  return best;
}

}  // namespace simdrop_cli
