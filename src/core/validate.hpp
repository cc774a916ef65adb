// Argument validation, once for every public call: each function checks one
// family of calls completely and returns SIMDROP_OK or the status the call
// must return, before anything is written. The rules, in the order they are
// checked (so that a call breaking several gets a predictable one):
//   params (NULL, keep_prob, threshold_bits, generator), then per family:
//   the shape's own arguments, NULL data pointers with work to do, sizes that
//   overflow (a byte count or a product of dimensions past SIZE_MAX, a last
//   global index past 2^64 - 1), leading dimensions, and overlap (buffers may
//   share no byte, except an input and an output that are exactly the same
//   buffer: in place). A call with nothing to do succeeds with any pointers.
// *work is set false when a valid call has nothing to do.
#pragma once

#include <cstddef>
#include <cstdint>

#include "rng/stream.hpp"
#include "simdrop/simdrop.h"

namespace simdrop::detail {

using rng::mask_bytes;

// NULL params, keep_prob, threshold_bits, generator.
int check_params(const simdrop_params* p);

// The element-wise calls on n elements of `element_bytes` each: x read, y
// written (x == y in place), mask written (mask_written) or read, may be NULL
// when optional. Also the bare mask call (x and y NULL, element_bytes 0) and
// fill_u32 (x NULL, y the words).
struct elementwise_args {
  const simdrop_params* p;
  size_t n;
  size_t element_bytes;
  const void* x;
  const void* y;
  const uint8_t* mask;
  bool x_required, y_required, mask_required, mask_written;
};
int validate_elementwise(const elementwise_args& a, bool* work);

// 2-D views: rows x cols elements of `element_bytes`, input rows ld_in apart,
// output rows ld_out apart, mask rows ldmask bytes apart (mask may be NULL),
// element (r, c) at global index offset + r * index_ld + c.
struct view_args {
  const simdrop_params* p;
  size_t rows, cols, element_bytes;
  const void* in;
  size_t ld_in;
  const void* out;
  size_t ld_out;
  const uint8_t* mask;
  size_t ldmask;
  uint64_t index_ld;
};
int validate_view(const view_args& a, bool* work);

// The mask of a 2-D view alone: rows of ceil(cols / 8) bytes, ldmask apart.
int validate_mask_view(const simdrop_params* p, const uint8_t* mask, size_t ldmask, size_t rows, size_t cols,
                       uint64_t index_ld, bool* work);

// Channel dropout: batch x channels decisions, spatial elements each;
// channels_last must be 0 or 1.
int validate_channels(const simdrop_params* p, const float* x, const float* y, size_t batch, size_t channels,
                      size_t spatial, int channels_last, const uint8_t* mask, bool* work);

// The fused bias-dropout-add over rows x cols: y may be x or residual exactly,
// never bias (read for every row).
int validate_fused(const simdrop_params* p, const float* x, const float* bias, const float* residual, const float* y,
                   size_t rows, size_t cols, const uint8_t* mask, bool* work);

}  // namespace simdrop::detail
