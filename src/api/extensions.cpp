// The runtime-facing calls (issue 5): 2-D strided views, channel dropout, the
// fused bias-dropout-add, and the f64 / bf16 / f16 element types.
//
// Everything is built on the active implementation's existing operations, so
// every call runs on every ISA and gives the bits of the scalar reference:
//  - 2-D views are per-row 1-D calls (forward_f32): row r is the 1-D call with
//    offset + r*cols, its mask at mask + r*ldmask. Since mask bits are
//    call-relative, each row writes whole bytes of its own mask row. Short
//    rows take their decisions from one `mask` call per block of rows
//    instead (the rows' global indices are consecutive).
//  - The other calls take the decisions from the `mask` operation, a chunk at
//    a time, into a small buffer on the stack, and apply them with a plain
//    loop (or a fast loop from core/convert_fast.hpp on AVX2 / AVX-512).
//
// As in c_api.cpp, every check runs before anything is written.
#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "core/convert.hpp"
#include "core/convert_fast.hpp"
#include "core/implementation.hpp"
#include "core/job.hpp"
#include "core/parallel.hpp"
#include "core/validate.hpp"
#include "rng/stream.hpp"
#include "simdrop/simdrop.h"

using namespace simdrop::detail;

namespace {

// ---- Tiling ---------------------------------------------------------------------

// Decisions computed per `mask` call: one xoshiro tile (a multiple of a Philox
// group), so that chunks that start on a tile boundary never regenerate words.
constexpr size_t max_chunk = 2 * simdrop::rng::xoshiro_tile_words;
size_t decision_chunk(const job& j) { return j.threshold_bits == 16 ? max_chunk : max_chunk / 2; }

// Room for one chunk of bits plus the 3 bytes the fast loops may read beyond.
struct decision_bits {
  alignas(64) uint8_t bytes[max_chunk / 8 + 8] = {};
};

// Calls f(c0, c1, bits) for consecutive chunks covering [begin, end) of the
// call, where bits holds the decisions of elements c0 .. c1 - 1 (bit 0 =
// element c0). Chunks end where the global index reaches a multiple of the
// chunk size (rounded up so that every chunk starts a multiple of 8 elements
// after `begin`, which keeps copies into a caller's mask whole bytes).
template <class F>
void for_each_decision_chunk(const implementation& impl, const job& j, size_t begin, size_t end, F&& f) {
  const size_t chunk = decision_chunk(j);
  decision_bits bits;
  for (size_t c0 = begin; c0 < end;) {
    const uint64_t g = j.offset + c0;
    const size_t step = size_t((chunk - g % chunk + 7) / 8 * 8);  // in [8, chunk]
    const size_t c1 = end - c0 <= step ? end : c0 + step;
    job part = j;
    part.offset = g;
    impl.mask(part, bits.bytes, 0, c1 - c0);  // c1 - c0 is the "call" end: unused bits are 0
    f(c0, c1, static_cast<const uint8_t*>(bits.bytes));
    c0 = c1;
  }
}

inline bool bit_at(const uint8_t* bits, size_t i) { return (bits[i / 8] >> (i % 8)) & 1u; }

// Runs f(begin, end) on `threads` contiguous, near-equal parts of [0, count).
// Used where the parts are rows or decisions rather than the 1-D ranges of
// parallel_ranges; the result never depends on where the cuts fall.
template <class F>
void parallel_parts(size_t count, int threads, F&& f) {
#if defined(_OPENMP)
  if (threads > 1 && count > 1) {
    const size_t parts = std::min(size_t(threads), count);
#pragma omp parallel num_threads(int(parts))
    {
      const size_t t = size_t(omp_get_thread_num()), n = size_t(omp_get_num_threads());
      const size_t base = count / n, extra = count % n;
      const size_t b = t * base + std::min(t, extra), e = b + base + (t < extra ? 1 : 0);
      if (b < e) f(b, e);
    }
    return;
  }
#else
  (void)threads;
#endif
  f(size_t(0), count);
}

// ---- The fast loops of the active ISA -------------------------------------------

const convert_fast_paths& no_fast_paths() {
  static const convert_fast_paths none{};
  return none;
}

// The table for `impl`: only when impl is that ISA (or a wider one), so that a
// forced "scalar" runs the portable loops. On avx512, entries the AVX-512 table
// lacks (bf16 without AVX-512 BF16) come from the AVX2 one.
const convert_fast_paths& fast_paths_for(const implementation& impl) {
#if defined(SIMDROP_HAVE_AVX512)
  if (std::strcmp(impl.name, "avx512") == 0) {
    static const convert_fast_paths merged = [] {
      convert_fast_paths t = avx512_convert_paths();
#if defined(SIMDROP_HAVE_AVX2)
      const convert_fast_paths& narrower = avx2_convert_paths();
      if (!t.scale_f16) t.scale_f16 = narrower.scale_f16;
      if (!t.scale_bf16) t.scale_bf16 = narrower.scale_bf16;
      if (!t.scale_f64) t.scale_f64 = narrower.scale_f64;
      if (!t.scale_f32) t.scale_f32 = narrower.scale_f32;
      if (!t.bias_dropout_add) t.bias_dropout_add = narrower.bias_dropout_add;
#endif
      return t;
    }();
    return merged;
  }
#endif
#if defined(SIMDROP_HAVE_AVX2)
  if (std::strcmp(impl.name, "avx2") == 0) return avx2_convert_paths();
#endif
  (void)impl;
  return no_fast_paths();
}

// ---- Portable apply loops (the reference for the fast ones) ---------------------

// Elements per apply block: keeps the expanded keep masks in L1 next to the data.
constexpr size_t apply_block = 512;

// byte_lanes[b]: byte k is 0xFF when bit k of b is set, else 0x00.
struct byte_lane_table {
  uint64_t lanes[256];
  constexpr byte_lane_table() : lanes() {
    for (unsigned b = 0; b < 256; ++b)
      for (unsigned k = 0; k < 8; ++k)
        if (b & (1u << k)) lanes[b] |= uint64_t(0xFF) << (8 * k);
  }
};
constexpr byte_lane_table byte_lanes{};

// keep[i] = all ones or zero for bits 0 .. n - 1 (bit i % 8 of bits[i / 8]).
// Spreading a byte through the table, then widening with sign extension,
// keeps both loops branch-free and vectorisable.
template <class Word>
void expand_bits(const uint8_t* bits, size_t n, Word* keep) {
  int8_t lanes[apply_block];
  for (size_t b = 0; b < n; b += apply_block) {
    const size_t m = std::min(apply_block, n - b);
    for (size_t j = 0; j < (m + 7) / 8; ++j) std::memcpy(lanes + 8 * j, &byte_lanes.lanes[bits[b / 8 + j]], 8);
    for (size_t i = 0; i < m; ++i) keep[b + i] = Word(lanes[i]);  // -1: all ones
  }
}

// The 8 bits first_bit .. first_bit + 7 as one byte (reads one byte past the
// last bit: callers use padded decision_bits buffers).
inline uint8_t byte_at(const uint8_t* bits, size_t first_bit) {
  const size_t at = first_bit / 8;
  return uint8_t((unsigned(bits[at]) | (unsigned(bits[at + 1]) << 8)) >> (first_bit % 8));
}

// Copies bits first_bit .. first_bit + n - 1 to whole bytes at out (ceil(n / 8)
// bytes, unused bits of the last one 0).
void copy_bits(const uint8_t* bits, size_t first_bit, size_t n, uint8_t* out) {
  for (size_t k = 0; k < n / 8; ++k) out[k] = byte_at(bits, first_bit + 8 * k);
  if (n % 8) out[n / 8] = uint8_t(byte_at(bits, first_bit + n / 8 * 8) & ((1u << (n % 8)) - 1u));
}

// y[i] = keep ? x[i] * s : +0, with the select done on the bits (branch-free,
// and +0 even when x[i] * s is NaN).
// Bits start at bit first_bit of `bits` (any position; a padded buffer).
void scale_f32_portable(const float* x, float* y, const uint8_t* bits, size_t first_bit, size_t n, float s) {
  uint32_t keep[apply_block];
  uint8_t shifted[apply_block / 8];
  for (size_t b = 0; b < n; b += apply_block) {
    const size_t m = std::min(apply_block, n - b);
    const size_t q = first_bit + b;
    if (q % 8 == 0) {
      expand_bits(bits + q / 8, m, keep);
    } else {
      for (size_t k = 0; k < (m + 7) / 8; ++k) shifted[k] = byte_at(bits, q + 8 * k);
      expand_bits(shifted, m, keep);
    }
    for (size_t i = 0; i < m; ++i) y[b + i] = bits_to_float(float_to_bits(x[b + i] * s) & keep[i]);
  }
}

using scale_f32_loop = void (*)(const float*, float*, const uint8_t*, size_t, size_t, float);

void scale_f64_portable(const double* x, double* y, const uint8_t* bits, size_t n, double s) {
  uint64_t keep[apply_block];
  for (size_t b = 0; b < n; b += apply_block) {
    const size_t m = std::min(apply_block, n - b);
    expand_bits(bits + b / 8, m, keep);
    for (size_t i = 0; i < m; ++i) {
      const double v = x[b + i] * s;
      uint64_t u;
      std::memcpy(&u, &v, sizeof u);
      u &= keep[i];
      std::memcpy(&y[b + i], &u, sizeof u);
    }
  }
}

void scale_bf16_portable(const uint16_t* x, uint16_t* y, const uint8_t* bits, size_t n, float s) {
  uint32_t keep[apply_block];
  for (size_t b = 0; b < n; b += apply_block) {
    const size_t m = std::min(apply_block, n - b);
    expand_bits(bits + b / 8, m, keep);
    for (size_t i = 0; i < m; ++i)
      y[b + i] = uint16_t(float_to_bf16(bf16_to_float(x[b + i]) * s) & keep[i]);
  }
}

void scale_f16_portable(const uint16_t* x, uint16_t* y, const uint8_t* bits, size_t n, float s) {
  for (size_t i = 0; i < n; ++i) y[i] = bit_at(bits, i) ? float_to_half(half_to_float(x[i]) * s) : uint16_t(0);
}

inline bool is_nan_bits(uint32_t u) { return (u & 0x7FFFFFFFu) > 0x7F800000u; }

// IEEE 754 leaves open which NaN an operation with several NaN operands
// returns, and compilers and FMA forms differ in operand order. The fused call
// fixes it: the first NaN among x, bias, residual, made quiet; a NaN the
// arithmetic creates (inf - inf) is the hardware's default NaN. The fast loops
// follow the same rule.
float first_nan_operand(float x, float bias, float residual, float result) {
  for (const float v : {x, bias, residual})
    if (is_nan_bits(float_to_bits(v))) return bits_to_float(float_to_bits(v) | 0x00400000u);
  return result;
}

void bias_dropout_add_portable(const float* x, const float* bias, const float* residual, float* y,
                               const uint8_t* bits, size_t first_bit, size_t n, float s) {
  for (size_t i = 0; i < n; ++i) {
    if (!bit_at(bits, first_bit + i)) {
      y[i] = residual[i];
      continue;
    }
    const float v = std::fma(x[i] + bias[i], s, residual[i]);
    y[i] = is_nan_bits(float_to_bits(v)) ? first_nan_operand(x[i], bias[i], residual[i], v) : v;
  }
}

// ---- Validation helpers -----------------------------------------------------------

// Bytes from the first to one past the last element of a rows x cols view with
// leading dimension ld (rows, cols > 0), or SIMDROP_ERR_INDEX_OVERFLOW.
int view_bytes(size_t rows, size_t cols, size_t ld, size_t element_size, size_t* out) {
  size_t last_row_start = 0, elements = 0;
  if (int s = checked_mul(rows - 1, ld, &last_row_start)) return s;
  if (cols > SIZE_MAX - last_row_start) return SIMDROP_ERR_INDEX_OVERFLOW;
  elements = last_row_start + cols;
  return checked_mul(elements, element_size, out);
}

// Shared checks of the 2-D calls; *empty is set when there is nothing to do.
int check_2d(const simdrop_params* p, const void* in, size_t ld_in, const void* out, size_t ld_out, size_t rows,
             size_t cols, const uint8_t* mask, size_t ldmask, bool* empty) {
  if (int s = check_params(p)) return s;
  *empty = rows == 0 || cols == 0;
  if (!*empty && (!in || !out)) return SIMDROP_ERR_NULL_POINTER;
  if (ld_in < cols || ld_out < cols) return SIMDROP_ERR_LEADING_DIM;
  const size_t mask_row_bytes = mask_bytes(cols);
  if (mask && ldmask < mask_row_bytes) return SIMDROP_ERR_LEADING_DIM;
  if (*empty) return SIMDROP_OK;
  size_t n = 0;
  if (int s = checked_mul(rows, cols, &n)) return s;
  if (int s = check_index_range(p->offset, n)) return s;
  size_t in_bytes = 0, out_bytes = 0, mask_span = 0;
  if (int s = view_bytes(rows, cols, ld_in, sizeof(float), &in_bytes)) return s;
  if (int s = view_bytes(rows, cols, ld_out, sizeof(float), &out_bytes)) return s;
  if (mask)
    if (int s = view_bytes(rows, mask_row_bytes, ldmask, 1, &mask_span)) return s;
  // In place only as the very same view; any other shared byte between the
  // spans of the two views (first to last element) is an overlap.
  const bool same_view = in == out && ld_in == ld_out;
  if (!same_view && byte_ranges_overlap(in, in_bytes, out, out_bytes)) return SIMDROP_ERR_OVERLAP;
  if (byte_ranges_overlap(mask, mask_span, in, in_bytes) || byte_ranges_overlap(mask, mask_span, out, out_bytes))
    return SIMDROP_ERR_OVERLAP;
  return SIMDROP_OK;
}

// ---- 2-D views --------------------------------------------------------------------

int run_2d(const float* x, size_t ldx, float* y, size_t ldy, size_t rows, size_t cols, const simdrop_params* p,
           uint8_t* mask, size_t ldmask) {
  bool empty = false;
  if (int s = check_2d(p, x, ldx, y, ldy, rows, cols, mask, ldmask, &empty)) return s;
  if (empty) return SIMDROP_OK;
  const size_t n = rows * cols;
  job j = make_job(*p);
  j.call_elements = n;  // the whole view: picks streaming stores
  const implementation& impl = call_implementation();
  const uint64_t unit = tiling_unit(j);

  // Contiguous rows and mask rows: exactly the 1-D call.
  const bool contiguous = ldx == cols && ldy == cols && (!mask || (cols % 8 == 0 && ldmask == cols / 8));
  if (contiguous || rows == 1) {
    parallel_ranges(cols * rows, j.offset, unit, [&](size_t b, size_t e) { impl.forward_f32(j, x, y, mask, b, e); });
    return SIMDROP_OK;
  }
  // No mask, rows starting at multiples of 32 elements: one pass of the
  // kernel over all rows, cut for the threads like a 1-D call.
  if (!mask && cols % 32 == 0 && j.offset % 32 == 0) {
    parallel_ranges(n, j.offset, unit,
                    [&](size_t b, size_t e) { impl.forward_rows_f32(j, x, ldx, y, ldy, cols, b, e); });
    return SIMDROP_OK;
  }

  const int threads = threads_for(n);
  const size_t chunk = decision_chunk(j);
  if (cols <= chunk / 4) {
    // Short rows: one kernel call per row would regenerate a Philox group or
    // replay a xoshiro tile for every row. Rows are consecutive in global
    // index, so one `mask` call serves a block of them; the values follow
    // with a plain (or the ISA's) apply loop.
    const float s = j.scale;
    const convert_fast_paths& fast = fast_paths_for(impl);
    auto scale = fast.scale_f32 ? fast.scale_f32 : scale_f32_portable;
    parallel_parts(rows, threads, [&](size_t r0, size_t r1) {
      decision_bits bits;
      const size_t rows_per_block = chunk / cols;
      for (size_t rb = r0; rb < r1; rb += rows_per_block) {
        const size_t re = std::min(r1, rb + rows_per_block);
        job block = j;
        block.offset = j.offset + uint64_t(rb) * cols;
        impl.mask(block, bits.bytes, 0, (re - rb) * cols);
        for (size_t r = rb; r < re; ++r) {
          const size_t first_bit = (r - rb) * cols;
          scale(x + r * ldx, y + r * ldy, bits.bytes, first_bit, cols, s);
          if (mask) copy_bits(bits.bytes, first_bit, cols, mask + r * ldmask);
        }
      }
    });
    return SIMDROP_OK;
  }
  auto row = [&](size_t r, bool split_row) {
    job row_job = j;
    row_job.offset = j.offset + uint64_t(r) * cols;
    const float* xr = x + r * ldx;
    float* yr = y + r * ldy;
    uint8_t* mr = mask ? mask + r * ldmask : nullptr;
    if (split_row)
      parallel_ranges(cols, row_job.offset, unit, [&](size_t b, size_t e) { impl.forward_f32(row_job, xr, yr, mr, b, e); });
    else
      impl.forward_f32(row_job, xr, yr, mr, 0, cols);
  };
  if (threads > 1 && rows >= size_t(threads)) {
    parallel_parts(rows, threads, [&](size_t r0, size_t r1) {
      for (size_t r = r0; r < r1; ++r) row(r, false);
    });
  } else {
    // Few long rows: the threads share each row instead.
    for (size_t r = 0; r < rows; ++r) row(r, threads > 1);
  }
  return SIMDROP_OK;
}

// ---- Element types other than f32 ---------------------------------------------------

// The checks of a 1-D call on elements of `element_size` bytes, with an optional mask.
int check_typed(const simdrop_params* p, const void* x, const void* y, size_t n, size_t element_size,
                const uint8_t* mask) {
  if (int s = check_call(p, n, element_size, {x, y})) return s;
  if (n == 0) return SIMDROP_OK;
  const size_t bytes = n * element_size;  // check_call proved it fits
  const size_t m_bytes = mask_bytes(n);
  if (partial_overlap(x, y, bytes) || byte_ranges_overlap(mask, m_bytes, x, bytes) ||
      byte_ranges_overlap(mask, m_bytes, y, bytes))
    return SIMDROP_ERR_OVERLAP;
  return SIMDROP_OK;
}

// Runs apply(c0, c1, bits) over [begin, end) of the call a decision chunk at a
// time (begin a multiple of 8 with a mask), copying the bits into the
// caller's mask when there is one.
template <class Apply>
void apply_chunks(const implementation& impl, const job& j, size_t begin, size_t end, uint8_t* mask, Apply&& apply) {
  for_each_decision_chunk(impl, j, begin, end, [&](size_t c0, size_t c1, const uint8_t* bits) {
    if (mask) std::memcpy(mask + c0 / 8, bits, (c1 - c0 + 7) / 8);
    apply(c0, c1, bits);
  });
}

// The same over the whole call, in parallel ranges.
template <class Apply>
void run_chunks(const implementation& impl, const job& j, size_t n, uint8_t* mask, Apply&& apply) {
  parallel_ranges(n, j.offset, tiling_unit(j),
                  [&](size_t begin, size_t end) { apply_chunks(impl, j, begin, end, mask, apply); });
}

int run_f64(const double* x, double* y, size_t n, const simdrop_params* p, uint8_t* mask) {
  if (int s = check_typed(p, x, y, n, sizeof(double), mask)) return s;
  if (n == 0) return SIMDROP_OK;
  const job j = make_job(*p);
  // The double scale 2^bits / T, not the float one.
  const double s = j.threshold == 0 ? 0.0 : std::ldexp(1.0, int(j.threshold_bits)) / double(j.threshold);
  const implementation& impl = call_implementation();
  const convert_fast_paths& fast = fast_paths_for(impl);
  auto loop = fast.scale_f64 ? fast.scale_f64 : scale_f64_portable;
  run_chunks(impl, j, n, mask,
             [&](size_t c0, size_t c1, const uint8_t* bits) { loop(x + c0, y + c0, bits, c1 - c0, s); });
  return SIMDROP_OK;
}

enum class half_kind { bf16, f16 };

int run_16(half_kind kind, const uint16_t* x, uint16_t* y, size_t n, const simdrop_params* p, uint8_t* mask) {
  if (int s = check_typed(p, x, y, n, sizeof(uint16_t), mask)) return s;
  if (n == 0) return SIMDROP_OK;
  job j = make_job(*p);
  j.call_elements = n;
  const implementation& impl = call_implementation();
  const convert_fast_paths& fast = fast_paths_for(impl);
  auto loop = kind == half_kind::f16 ? (fast.scale_f16 ? fast.scale_f16 : scale_f16_portable)
                                     : (fast.scale_bf16 ? fast.scale_bf16 : scale_bf16_portable);
  const float s = j.scale;
  // f16 on an implementation with a halves kernel: the whole word registers
  // (32 elements from a global multiple of 32) in one pass, the ends through
  // the loop. Elements [head, head + body) of the call are those registers.
  // Both are distances inside the call, in [0, n]: rounding the global index
  // itself up ((offset + 31) / 32 * 32) or taking offset + n wraps past 2^64
  // for a call that ends at or near it (issue 15).
  const size_t head = size_t((32 - j.offset % 32) % 32);
  const size_t body = head < n ? (n - head) / 32 * 32 : 0;
  auto apply = [&](size_t c0, size_t c1, const uint8_t* bits) { loop(x + c0, y + c0, bits, c1 - c0, s); };
  if (kind == half_kind::f16 && impl.forward_f16 && !j.uniform() && body != 0 && (!mask || j.offset % 8 == 0)) {
    const uint64_t a = j.offset + head;  // <= offset + n - 32: no wrap
    apply_chunks(impl, j, 0, head, mask, apply);
    job middle = j;
    middle.offset = a;
    uint8_t* middle_mask = mask ? mask + head / 8 : nullptr;  // head is a multiple of 8 with a mask
    parallel_ranges(body, a, tiling_unit(j), [&](size_t b0, size_t e0) {
      impl.forward_f16(middle, x + head, y + head, middle_mask, b0, e0);
    });
    apply_chunks(impl, j, head + body, n, mask, apply);
    return SIMDROP_OK;
  }
  run_chunks(impl, j, n, mask, apply);
  return SIMDROP_OK;
}

// ---- Channel dropout ------------------------------------------------------------------

// NCHW-like: element e belongs to decision e / spatial. The threads share the
// elements; each walks its decisions a chunk at a time.
void channels_first(const implementation& impl, const job& j, const float* x, float* y, size_t decisions,
                    size_t spatial, int threads) {
  const float s = j.scale;
  parallel_parts(decisions * spatial, threads, [&](size_t e0, size_t e1) {
    const size_t d0 = e0 / spatial, d1 = (e1 - 1) / spatial + 1;
    for_each_decision_chunk(impl, j, d0, d1, [&](size_t c0, size_t c1, const uint8_t* bits) {
      for (size_t d = c0; d < c1; ++d) {
        const size_t b = std::max(e0, d * spatial), e = std::min(e1, (d + 1) * spatial);
        if (bit_at(bits, d - c0)) {
          for (size_t i = b; i < e; ++i) y[i] = x[i] * s;
        } else {
          std::fill(y + b, y + e, 0.0f);
        }
      }
    });
  });
}

// NHWC-like: `batch * spatial` rows of `channels` elements; row n*spatial + s
// uses decisions n*channels .. n*channels + channels - 1. The threads share
// the rows. Rows of a few channels are handled as a repeating pattern over the
// contiguous run of rows of one sample; longer rows one by one with `scale`.
void channels_last(const implementation& impl, const job& j, const float* x, float* y, size_t batch,
                   size_t channels, size_t spatial, int threads, scale_f32_loop scale) {
  constexpr size_t pattern_max = 2048, short_row = 256;
  const float s = j.scale;
  parallel_parts(batch * spatial, threads, [&](size_t r0, size_t r1) {
    uint32_t keep[pattern_max];
    for (size_t r = r0; r < r1;) {
      const size_t sample = r / spatial, s0 = r % spatial;
      const size_t s1 = std::min(spatial, s0 + (r1 - r));
      const size_t first_decision = sample * channels;
      if (channels < short_row) {
        // The sample's decisions, repeated `copies` times.
        for_each_decision_chunk(impl, j, first_decision, first_decision + channels,
                                [&](size_t c0, size_t c1, const uint8_t* bits) {
                                  expand_bits(bits, c1 - c0, keep + (c0 - first_decision));
                                });
        // As many copies as this part of the sample has rows (a short
        // sample no longer fills the whole pattern buffer).
        const size_t copies = std::min(pattern_max / channels, s1 - s0), period = copies * channels;
        for (size_t k = 1; k < copies; ++k) std::copy(keep, keep + channels, keep + k * channels);
        const size_t base = (sample * spatial + s0) * channels, count = (s1 - s0) * channels;
        for (size_t b = 0; b < count; b += period) {
          const size_t m = std::min(period, count - b);
          const float* xb = x + base + b;
          float* yb = y + base + b;
          for (size_t i = 0; i < m; ++i) yb[i] = bits_to_float(float_to_bits(xb[i] * s) & keep[i]);
        }
      } else {
        for_each_decision_chunk(impl, j, first_decision, first_decision + channels,
                                [&](size_t c0, size_t c1, const uint8_t* bits) {
                                  const size_t c = c0 - first_decision;
                                  for (size_t sp = s0; sp < s1; ++sp) {
                                    const size_t at = (sample * spatial + sp) * channels + c;
                                    scale(x + at, y + at, bits, 0, c1 - c0, s);
                                  }
                                });
      }
      r += s1 - s0;
    }
  });
}

int run_channels(const float* x, float* y, size_t batch, size_t channels, size_t spatial, int channels_last_layout,
                 const simdrop_params* p, uint8_t* mask) {
  if (int s = check_params(p)) return s;
  if (channels_last_layout != 0 && channels_last_layout != 1) return SIMDROP_ERR_ARGUMENT;
  size_t decisions = 0, n = 0, bytes = 0;
  if (int s = checked_mul(batch, channels, &decisions)) return s;
  if (int s = checked_mul(decisions, spatial, &n)) return s;
  if (n != 0 && (!x || !y)) return SIMDROP_ERR_NULL_POINTER;
  if (int s = check_index_range(p->offset, decisions)) return s;
  if (int s = checked_mul(n, sizeof(float), &bytes)) return s;
  const size_t m_bytes = mask ? mask_bytes(decisions) : 0;
  if (partial_overlap(x, y, bytes) || byte_ranges_overlap(mask, m_bytes, x, bytes) ||
      byte_ranges_overlap(mask, m_bytes, y, bytes))
    return SIMDROP_ERR_OVERLAP;
  if (decisions == 0 || (n == 0 && !mask)) return SIMDROP_OK;

  const job j = make_job(*p);
  const implementation& impl = call_implementation();
  const uint64_t unit = tiling_unit(j);
  if (spatial == 1) {  // one element per decision: exactly the 1-D call
    parallel_ranges(n, j.offset, unit, [&](size_t b, size_t e) { impl.forward_f32(j, x, y, mask, b, e); });
    return SIMDROP_OK;
  }
  if (mask)  // the decisions alone are cheap next to the data: write them once
    parallel_ranges(decisions, j.offset, unit, [&](size_t b, size_t e) { impl.mask(j, mask, b, e); });
  if (n == 0) return SIMDROP_OK;
  const int threads = threads_for(n);
  if (channels_last_layout)
    channels_last(impl, j, x, y, batch, channels, spatial, threads,
                  fast_paths_for(impl).scale_f32 ? fast_paths_for(impl).scale_f32 : scale_f32_portable);
  else
    channels_first(impl, j, x, y, decisions, spatial, threads);
  return SIMDROP_OK;
}

// ---- Fused bias + dropout + residual ----------------------------------------------------

int run_bias_dropout_add(const float* x, const float* bias, const float* residual, float* y, size_t rows,
                         size_t cols, const simdrop_params* p, uint8_t* mask) {
  if (int s = check_params(p)) return s;
  size_t n = 0;
  if (int s = checked_mul(rows, cols, &n)) return s;
  if (n != 0 && (!x || !bias || !residual || !y)) return SIMDROP_ERR_NULL_POINTER;
  if (int s = check_index_range(p->offset, n)) return s;
  if (n == 0) return SIMDROP_OK;
  size_t bytes = 0;
  if (int s = checked_mul(n, sizeof(float), &bytes)) return s;
  const size_t bias_bytes = cols * sizeof(float);  // <= bytes, cannot overflow
  const size_t m_bytes = mask ? mask_bytes(n) : 0;
  // y may be x or residual exactly (in place); bias is read for every row, so
  // y may not touch it at all.
  if (partial_overlap(x, y, bytes) || partial_overlap(residual, y, bytes) ||
      byte_ranges_overlap(bias, bias_bytes, y, bytes))
    return SIMDROP_ERR_OVERLAP;
  if (byte_ranges_overlap(mask, m_bytes, x, bytes) || byte_ranges_overlap(mask, m_bytes, y, bytes) ||
      byte_ranges_overlap(mask, m_bytes, residual, bytes) || byte_ranges_overlap(mask, m_bytes, bias, bias_bytes))
    return SIMDROP_ERR_OVERLAP;

  job j = make_job(*p);
  j.call_elements = n;
  const implementation& impl = call_implementation();
  // Rows starting at multiples of 32 elements, random decisions: the
  // implementation's one-pass kernel, where it has one.
  if (impl.bias_dropout_add_f32 && cols % 32 == 0 && j.offset % 32 == 0 && !j.uniform()) {
    parallel_ranges(n, j.offset, tiling_unit(j), [&](size_t b, size_t e) {
      impl.bias_dropout_add_f32(j, x, bias, residual, y, cols, mask, b, e);
    });
    return SIMDROP_OK;
  }
  const convert_fast_paths& fast = fast_paths_for(impl);
  auto loop = fast.bias_dropout_add ? fast.bias_dropout_add : bias_dropout_add_portable;
  const float s = j.scale;
  run_chunks(impl, j, n, mask, [&](size_t c0, size_t c1, const uint8_t* bits) {
    // Cut the chunk at row ends so that the bias is contiguous in each piece.
    for (size_t i = c0; i < c1;) {
      const size_t c = i % cols, len = std::min(c1 - i, cols - c);
      loop(x + i, bias + c, residual + i, y + i, bits, i - c0, len, s);
      i += len;
    }
  });
  return SIMDROP_OK;
}

}  // namespace

extern "C" {

int simdrop_forward_2d_f32(const float* x, size_t ldx, float* y, size_t ldy, size_t rows, size_t cols,
                           const simdrop_params* p, uint8_t* mask, size_t ldmask) {
  return run_2d(x, ldx, y, ldy, rows, cols, p, mask, ldmask);
}

int simdrop_backward_2d_f32(const float* dy, size_t lddy, float* dx, size_t lddx, size_t rows, size_t cols,
                            const simdrop_params* p) {
  return run_2d(dy, lddy, dx, lddx, rows, cols, p, nullptr, 0);
}

int simdrop_forward_channels_f32(const float* x, float* y, size_t batch, size_t channels, size_t spatial,
                                 int channels_last, const simdrop_params* p, uint8_t* mask) {
  return run_channels(x, y, batch, channels, spatial, channels_last, p, mask);
}

int simdrop_bias_dropout_add_f32(const float* x, const float* bias, const float* residual, float* y, size_t rows,
                                 size_t cols, const simdrop_params* p, uint8_t* mask) {
  return run_bias_dropout_add(x, bias, residual, y, rows, cols, p, mask);
}

int simdrop_forward_f64(const double* x, double* y, size_t n, const simdrop_params* p, uint8_t* mask) {
  return run_f64(x, y, n, p, mask);
}

int simdrop_backward_f64(const double* dy, double* dx, size_t n, const simdrop_params* p) {
  return run_f64(dy, dx, n, p, nullptr);
}

int simdrop_forward_bf16(const uint16_t* x, uint16_t* y, size_t n, const simdrop_params* p, uint8_t* mask) {
  return run_16(half_kind::bf16, x, y, n, p, mask);
}

int simdrop_backward_bf16(const uint16_t* dy, uint16_t* dx, size_t n, const simdrop_params* p) {
  return run_16(half_kind::bf16, dy, dx, n, p, nullptr);
}

int simdrop_forward_f16(const uint16_t* x, uint16_t* y, size_t n, const simdrop_params* p, uint8_t* mask) {
  return run_16(half_kind::f16, x, y, n, p, mask);
}

int simdrop_backward_f16(const uint16_t* dy, uint16_t* dx, size_t n, const simdrop_params* p) {
  return run_16(half_kind::f16, dy, dx, n, p, nullptr);
}

}  // extern "C"
