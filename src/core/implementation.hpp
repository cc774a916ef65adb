// The dispatch boundary: one table per implementation (scalar, avx2, avx512,
// neon) with an entry for every public data call, in every layout and element
// type. Every implementation fills every entry; where an ISA has nothing faster
// it composes the entry from its own decisions and apply loops
// (kernels/composed.hpp) or reuses a scalar entry. One indirect call per range
// or tile, never per vector.
//
// The API layer (src/api/) validates a call, builds its job, cuts it for the
// threads (core/parallel.hpp) and calls an entry: it never looks at an
// entry's geometry. Each entry accepts any range its call can produce and owns
// its preconditions: a kernel that needs, say, rows starting at multiples of
// 32 checks that itself and takes another path otherwise.
//
// Element-wise entries work on the element range [begin, end) of a call whose
// element 0 has global index job.offset; the pointers are the call's base
// pointers (element i lives at x[i]). Ranges are cut so that mask bytes are
// never shared: begin is a multiple of 8, and end is a multiple of 8 unless it
// is the end of the call, in which case the unused bits of the last mask byte
// are written as 0. Results depend only on the global indices, never on how a
// call is cut (the determinism contract, docs/stream.md).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/job.hpp"

namespace simdrop::detail {

// A 2-D view of `rows` rows of `cols` elements: element (r, c) is x[r * ldx + c]
// (y and the mask's bit c of byte r * ldmask + c / 8 likewise) and has global
// index job.offset + r * index_ld + c. mask may be null; x and y are null in a
// view of the mask alone.
template <class T>
struct view_2d {
  const T* x;
  size_t ldx;
  T* y;
  size_t ldy;
  uint8_t* mask;
  size_t ldmask;
  size_t rows, cols;
  uint64_t index_ld;  // >= cols (cols: the numbering of simdrop_forward_2d_f32)

  // Rows, mask rows and global indices all packed: the view is a 1-D call.
  bool contiguous() const {
    return index_ld == cols && ldx == cols && ldy == cols && (!mask || (cols % 8 == 0 && ldmask == cols / 8));
  }
};

// The part of a 2-D view one thread computes: rows [row_begin, row_end),
// columns [col_begin, col_end) of each. col_begin is a multiple of 8 (mask
// bytes are never shared); a tile of several rows has all the columns.
struct tile {
  size_t row_begin, row_end, col_begin, col_end;
};

// Channel dropout (simdrop_forward_channels_f32): `batch * channels` decisions,
// decision n * channels + c at global index job.offset + n * channels + c,
// each applied to `spatial` elements. NCHW-like (channels_last false: element e
// belongs to decision e / spatial) or NHWC-like (batch * spatial rows of
// `channels` elements).
struct channels_view {
  const float* x;
  float* y;
  size_t batch, channels, spatial;
  bool channels_last;
  // What the threads share: elements (NCHW) or rows of `channels` (NHWC).
  size_t parts() const { return channels_last ? batch * spatial : batch * channels * spatial; }
};

// The fused bias-dropout-add over contiguous rows of `cols` elements:
// y = keep ? fmaf(x + bias[c], s, residual) : residual (simdrop.h has the NaN rule).
struct fused_view {
  const float* x;
  const float* bias;
  const float* residual;
  float* y;
  uint8_t* mask;
  size_t cols;
};

struct implementation {
  const char* name;         // "scalar", "avx2", "avx512", "neon"
  const char* description;  // what it needs and uses, for humans
  bool (*supported)();      // can this CPU (and OS) run it?

  // ---- Element-wise calls: [begin, end) of the call ----
  // y[i] = keep ? x[i] * scale : +0; mask bits when mask != nullptr. x == y allowed.
  void (*forward_f32)(const job&, const float* x, float* y, uint8_t* mask, size_t begin, size_t end);
  // The same on doubles, with the double scale 2^bits / T.
  void (*forward_f64)(const job&, const double* x, double* y, uint8_t* mask, size_t begin, size_t end);
  // bfloat16 and IEEE half: y = keep ? round_to_nearest_even(float(x) * scale) : +0.
  void (*forward_bf16)(const job&, const uint16_t* x, uint16_t* y, uint8_t* mask, size_t begin, size_t end);
  void (*forward_f16)(const job&, const uint16_t* x, uint16_t* y, uint8_t* mask, size_t begin, size_t end);
  // Mask bits only.
  void (*mask)(const job&, uint8_t* mask, size_t begin, size_t end);
  // dx[i] = bit i of mask ? dy[i] * scale : +0 (no random numbers).
  void (*backward_mask_f32)(const job&, const float* dy, const uint8_t* mask, float* dx, size_t begin,
                            size_t end);
  // words[i] = W[offset + i]: the range is in words, and any cut is allowed.
  void (*fill_u32)(const job&, uint32_t* words, size_t begin, size_t end);

  // ---- 2-D views: one tile of the view (bf16 and f16 share the view type) ----
  void (*forward_view_f32)(const job&, const view_2d<float>&, const tile&);
  void (*forward_view_f64)(const job&, const view_2d<double>&, const tile&);
  void (*forward_view_bf16)(const job&, const view_2d<uint16_t>&, const tile&);
  void (*forward_view_f16)(const job&, const view_2d<uint16_t>&, const tile&);
  // The mask alone (x and y null).
  void (*mask_view)(const job&, const view_2d<float>&, const tile&);

  // ---- Channel dropout: parts [begin, end) of view.parts(), data only (the
  // mask of the decisions is the `mask` entry's) ----
  void (*forward_channels_f32)(const job&, const channels_view&, size_t begin, size_t end);

  // ---- The fused bias-dropout-add: [begin, end) of the call, mask bits when view.mask ----
  void (*bias_dropout_add_f32)(const job&, const fused_view&, size_t begin, size_t end);
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
