// Entries composed from an implementation's decisions and apply loops, for
// the calls it has no one-pass kernel for: decisions come a chunk at a time
// from its `mask` kernel into a small buffer, and its apply loops
// (kernels/apply_loops.hpp) apply them. Baseline code, out of line: each
// implementation's table entry calls these with its own kernels, one indirect
// call per chunk of thousands of elements.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/implementation.hpp"
#include "kernels/apply_loops.hpp"

namespace simdrop::detail {

// What the composed entries take from an implementation.
struct decision_kernels {
  // Its element-wise and mask entries (any range).
  void (*forward_f32)(const job&, const float* x, float* y, uint8_t* mask, size_t begin, size_t end);
  void (*forward_f64)(const job&, const double* x, double* y, uint8_t* mask, size_t begin, size_t end);
  void (*forward_bf16)(const job&, const uint16_t* x, uint16_t* y, uint8_t* mask, size_t begin, size_t end);
  void (*forward_f16)(const job&, const uint16_t* x, uint16_t* y, uint8_t* mask, size_t begin, size_t end);
  void (*mask)(const job&, uint8_t* mask, size_t begin, size_t end);
  const apply_loops* loops;
};

// The 1-D f32 forward from mask bits and the apply loop (the lean kernel set's
// other widths; entries.inc, "Which instances exist").
void forward_f32_chunked(const job&, const decision_kernels&, const float* x, float* y, uint8_t* mask,
                         size_t begin, size_t end);
void forward_f64_chunked(const job&, const decision_kernels&, const double* x, double* y, uint8_t* mask,
                         size_t begin, size_t end);
void forward_bf16_chunked(const job&, const decision_kernels&, const uint16_t* x, uint16_t* y, uint8_t* mask,
                          size_t begin, size_t end);
void forward_f16_chunked(const job&, const decision_kernels&, const uint16_t* x, uint16_t* y, uint8_t* mask,
                         size_t begin, size_t end);
void bias_dropout_add_f32_chunked(const job&, const decision_kernels&, const fused_view&, size_t begin, size_t end);
void forward_channels_f32_chunked(const job&, const decision_kernels&, const channels_view&, size_t begin,
                                  size_t end);

// A tile of a 2-D view: a contiguous view (rows, mask rows and indices all
// packed) as one 1-D range; short rows a block of rows per decision chunk (one
// mask call over the block's indices, gaps between rows included, then the
// apply loop row by row); other views row by row through the 1-D entry.
void forward_view_f32_composed(const job&, const decision_kernels&, const view_2d<float>&, const tile&);
void forward_view_f64_composed(const job&, const decision_kernels&, const view_2d<double>&, const tile&);
void forward_view_bf16_composed(const job&, const decision_kernels&, const view_2d<uint16_t>&, const tile&);
void forward_view_f16_composed(const job&, const decision_kernels&, const view_2d<uint16_t>&, const tile&);
void mask_view_composed(const job&, const decision_kernels&, const view_2d<float>&, const tile&);

}  // namespace simdrop::detail
