// OpenMP tiling: one contiguous range per thread, cut on Philox-group or
// xoshiro-tile boundaries and on mask-byte boundaries. Because every kernel's
// output depends only on global indices, the result is bit-identical for any
// thread count; the cuts only decide who computes what.
#include "core/parallel.hpp"

#include "core/implementation.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace simdrop::detail {
namespace {

std::atomic<int> requested_threads{0};

size_t cut_point(size_t ideal, size_t n, uint64_t offset, uint64_t unit) {
  // (offset + ideal) % unit, without forming offset + ideal: it may pass 2^64
  // (at the end of a call that ends there), and only a power-of-two unit would
  // survive the wrap.
  const uint64_t misalignment = (offset % unit + ideal % unit) % unit;
  uint64_t i = ideal + (misalignment ? unit - misalignment : 0);
  i = (i + 7) / 8 * 8;
  return i >= n ? n : size_t(i);
}

}  // namespace

size_t min_elements_per_thread() {
  static const size_t value = [] {
    if (const char* env = std::getenv("SIMDROP_MIN_ELEMENTS_PER_THREAD")) {
      char* end = nullptr;
      const unsigned long long v = std::strtoull(env, &end, 10);
      if (end != env && *end == '\0' && v > 0) return size_t(v);
    }
    return default_min_elements_per_thread;
  }();
  return value;
}

void set_num_threads(int n) { requested_threads.store(n, std::memory_order_relaxed); }
int get_num_threads() { return requested_threads.load(std::memory_order_relaxed); }

int threads_for(size_t n) {
#if defined(_OPENMP)
  if (omp_in_parallel()) return 1;
  int threads = requested_threads.load(std::memory_order_relaxed);
  if (threads <= 0) threads = omp_get_max_threads();
  const size_t by_size = std::max<size_t>(1, n / min_elements_per_thread());
  return int(std::min<size_t>(size_t(threads), by_size));
#else
  (void)n;
  return 1;
#endif
}

void run_ranges(size_t n, uint64_t offset, uint64_t unit, range_body body, void* context) {
  if (n == 0) return;
  const int threads = threads_for(n);
  if (threads <= 1) {
    body(context, 0, n);
    return;
  }
#if defined(_OPENMP)
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), count = omp_get_num_threads();
    const size_t begin = t == 0 ? 0 : cut_point(n / size_t(count) * size_t(t), n, offset, unit);
    const size_t end = t + 1 == count ? n : cut_point(n / size_t(count) * size_t(t + 1), n, offset, unit);
    if (begin < end) body(context, begin, end);
  }
#endif
}

void run_parts(size_t count, int threads, part_body body, void* context) {
  if (count == 0) return;
#if defined(_OPENMP)
  if (threads > 1 && count > 1) {
    const size_t parts = std::min(size_t(threads), count);
#pragma omp parallel num_threads(int(parts))
    {
      const size_t t = size_t(omp_get_thread_num()), n = size_t(omp_get_num_threads());
      const size_t base = count / n, extra = count % n;
      const size_t b = t * base + std::min(t, extra), e = b + base + (t < extra ? 1 : 0);
      if (b < e) body(context, b, e);
    }
    return;
  }
#else
  (void)threads;
#endif
  body(context, 0, count);
}

void run_tiles(size_t rows, size_t cols, uint64_t offset, uint64_t index_ld, uint64_t unit, tile_body body,
               void* context) {
  if (rows == 0 || cols == 0) return;
  const int threads = threads_for(rows * cols);
  if (threads <= 1 || rows == 1 || rows >= size_t(threads)) {
    if (rows == 1) {  // one row: cut like a 1-D call
      struct row_context {
        tile_body body;
        void* context;
      } row{body, context};
      run_ranges(
          cols, offset, unit,
          [](void* ctx, size_t b, size_t e) {
            const row_context& r = *static_cast<const row_context*>(ctx);
            r.body(r.context, tile{0, 1, b, e});
          },
          &row);
      return;
    }
    struct rows_context {
      tile_body body;
      void* context;
      size_t cols;
    } parts{body, context, cols};
    run_parts(
        rows, threads,
        [](void* ctx, size_t b, size_t e) {
          const rows_context& r = *static_cast<const rows_context*>(ctx);
          r.body(r.context, tile{b, e, 0, r.cols});
        },
        &parts);
    return;
  }
  // Fewer rows than threads: the threads share each row in turn.
  for (size_t r = 0; r < rows; ++r) {
    struct row_context {
      tile_body body;
      void* context;
      size_t row;
    } row{body, context, r};
    run_ranges(
        cols, offset + uint64_t(r) * index_ld, unit,
        [](void* ctx, size_t b, size_t e) {
          const row_context& c = *static_cast<const row_context*>(ctx);
          c.body(c.context, tile{c.row, c.row + 1, b, e});
        },
        &row);
  }
}

}  // namespace simdrop::detail
