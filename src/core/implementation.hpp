// The dispatch boundary: one table of coarse operations per implementation
// (scalar, avx2, avx512, neon). One indirect call per range, never per vector.
//
// Every operation works on the element range [begin, end) of a call whose
// element 0 has global index job.offset; the pointers are the call's base
// pointers (element i lives at x[i]). Ranges are cut so that mask bytes are
// never shared: begin is a multiple of 8, and end is a multiple of 8 unless it
// is the end of the call, in which case the unused bits of the last mask byte
// are written as 0. Results depend only on the global indices, never on how a
// call is cut into ranges (the determinism contract, docs/stream.md).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/job.hpp"

namespace simdrop::detail {

struct implementation {
  const char* name;         // "scalar", "avx2", "avx512", "neon"
  const char* description;  // what it needs and uses, for humans
  bool (*supported)();      // can this CPU (and OS) run it?

  // y[i] = keep ? x[i] * scale : +0; mask bits when mask != nullptr. x == y allowed.
  void (*forward_f32)(const job&, const float* x, float* y, uint8_t* mask, size_t begin, size_t end);
  // Mask bits only.
  void (*mask)(const job&, uint8_t* mask, size_t begin, size_t end);
  // dx[i] = bit i of mask ? dy[i] * scale : +0 (no random numbers).
  void (*backward_mask_f32)(const job&, const float* dy, const uint8_t* mask, float* dx, size_t begin,
                            size_t end);
  // words[i] = W[offset + i]: the range is in words, and any cut is allowed.
  void (*fill_u32)(const job&, uint32_t* words, size_t begin, size_t end);
  // forward_f32 without a mask over a 2-D view of rows of `cols` elements:
  // element i of the call is column i % cols of row i / cols, at
  // x[(i / cols) * ldx + i % cols] (y likewise with ldy); ldx, ldy >= cols.
  // The range is in elements of the call, as for forward_f32. Requires cols
  // and job.offset to be multiples of 32 (no word register crosses a row).
  void (*forward_rows_f32)(const job&, const float* x, size_t ldx, float* y, size_t ldy, size_t cols, size_t begin,
                           size_t end);
  // The fused bias-dropout-add over contiguous rows of `cols` elements (the
  // rule of simdrop_bias_dropout_add_f32, bias[i % cols]), mask bits when mask
  // != nullptr. Requires cols and job.offset to be multiples of 32 and a job
  // that is not uniform (0 < T < 2^bits). nullptr where an implementation
  // has none (scalar): the caller then takes the decisions through mask.
  void (*bias_dropout_add_f32)(const job&, const float* x, const float* bias, const float* residual, float* y,
                               size_t cols, uint8_t* mask, size_t begin, size_t end);
  // y[i] = keep ? half(float(x[i]) * scale) : +0 on IEEE halves (the rule of
  // simdrop_forward_f16), mask bits when mask != nullptr. Requires
  // job.offset + begin and job.offset + end to be multiples of 32 (whole word
  // registers), a job that is not uniform, and with a mask job.offset a
  // multiple of 8. nullptr where an implementation has none (scalar, or a CPU
  // without F16C).
  void (*forward_f16)(const job&, const uint16_t* x, uint16_t* y, uint8_t* mask, size_t begin, size_t end);
};

// A call larger than this (job.call_elements, all threads together), or one
// thread's range at least this large, writes its output with streaming
// (non-temporal) stores where the ISA has them and y is aligned: the data no
// longer fits the last-level cache, so normal stores would only evict the
// input to read back lines that are about to be fully overwritten
// (docs/parallel.md has the measurements behind the figure; the definition
// SIMDROP_STREAMING_MIN_ELEMENTS replaces it at build time, for measuring).
#if defined(SIMDROP_STREAMING_MIN_ELEMENTS)
inline constexpr size_t streaming_min_elements = SIMDROP_STREAMING_MIN_ELEMENTS;
#else
inline constexpr size_t streaming_min_elements = size_t(1) << 22;
#endif

// The implementations compiled into this build, best first; scalar is last and always present.
const implementation* const* implementation_list(size_t* count);

// The implementation calls use now (detected once, or forced). Never null.
const implementation& active_implementation();

// What a data call uses: the active implementation, loaded once for the whole
// call and recorded as the calling thread's last (simdrop_last_call_isa).
const implementation& call_implementation();

// Name of the implementation of the calling thread's last data call, or "".
const char* last_call_implementation_name();

// Per-ISA tables, defined in their own translation units.
const implementation& scalar_implementation();
#if defined(SIMDROP_HAVE_AVX2)
const implementation& avx2_implementation();
#endif
#if defined(SIMDROP_HAVE_AVX512)
const implementation& avx512_implementation();
#endif
#if defined(SIMDROP_HAVE_NEON)
const implementation& neon_implementation();
#endif

}  // namespace simdrop::detail
