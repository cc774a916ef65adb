// OpenMP tiling of one call along the contract's boundaries.
#pragma once

#include <cstddef>
#include <cstdint>

namespace simdrop::detail {

// Calls below this many elements per thread run on the calling thread
// (docs/parallel.md says how the figure was measured). The environment
// variable SIMDROP_MIN_ELEMENTS_PER_THREAD, read once, overrides it for
// measuring the cut-over on another machine.
inline constexpr size_t default_min_elements_per_thread = size_t(1) << 15;
size_t min_elements_per_thread();

// Threads a call of n elements will use now: 1 inside a caller's parallel
// region, else the simdrop_set_num_threads value (or OpenMP's default),
// limited so that each thread gets at least min_elements_per_thread().
int threads_for(size_t n);

using range_body = void (*)(void* context, size_t begin, size_t end);

// Cuts [0, n) into one range per thread and runs body on each. Cut points fall
// where offset + i is a multiple of `unit` (a whole Philox group or xoshiro
// tile), rounded up to a multiple of 8 so that no two ranges share a mask byte.
void run_ranges(size_t n, uint64_t offset, uint64_t unit, range_body body, void* context);

template <class F>
void parallel_ranges(size_t n, uint64_t offset, uint64_t unit, F&& f) {
  run_ranges(
      n, offset, unit, [](void* ctx, size_t b, size_t e) { (*static_cast<F*>(ctx))(b, e); },
      static_cast<void*>(&f));
}

// Runs body on `threads` contiguous, near-equal parts of [0, count) (rows,
// positions or elements: whatever the caller's parts are), one per thread.
using part_body = void (*)(void* context, size_t begin, size_t end);
void run_parts(size_t count, int threads, part_body body, void* context);

template <class F>
void parallel_parts(size_t count, int threads, F&& f) {
  run_parts(
      count, threads, [](void* ctx, size_t b, size_t e) { (*static_cast<F*>(ctx))(b, e); }, static_cast<void*>(&f));
}

// Cuts a 2-D view of rows x cols elements, whose element (r, c) has global
// index offset + r * index_ld + c, into tiles (core/implementation.hpp): whole
// rows, near-equal in number, when there are at least as many rows as
// threads; otherwise each row in turn, its columns cut as a 1-D call's range
// (at global multiples of `unit`, and of 8 elements).
struct tile;
using tile_body = void (*)(void* context, const tile& t);
void run_tiles(size_t rows, size_t cols, uint64_t offset, uint64_t index_ld, uint64_t unit, tile_body body,
               void* context);

template <class F>
void parallel_tiles(size_t rows, size_t cols, uint64_t offset, uint64_t index_ld, uint64_t unit, F&& f) {
  run_tiles(
      rows, cols, offset, index_ld, unit, [](void* ctx, const tile& t) { (*static_cast<F*>(ctx))(t); },
      static_cast<void*>(&f));
}

void set_num_threads(int n);
int get_num_threads();

}  // namespace simdrop::detail
