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
  // Its forward_f32 and mask entries (any range).
  void (*forward_f32)(const job&, const float* x, float* y, uint8_t* mask, size_t begin, size_t end);
  void (*mask)(const job&, uint8_t* mask, size_t begin, size_t end);
  const apply_loops* loops;
};

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
// packed) as one 1-D range; short rows of consecutive indices a block of rows
// per decision chunk; other views row by row through forward_f32.
void forward_2d_f32_composed(const job&, const decision_kernels&, const view_2d_f32&, const tile&);

}  // namespace simdrop::detail
