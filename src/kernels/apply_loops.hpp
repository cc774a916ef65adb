// Apply loops: decisions already made (keep bits in a buffer), applied to the
// data of one element type. The composed entries (kernels/composed.hpp) pair
// an implementation's decisions with its apply loops for the calls it has no
// one-pass kernel for. Every implementation provides every loop: the portable
// ones (src/scalar/apply_loops.cpp, the reference) or its ISA's own
// (src/kernels/arch/<isa>_apply.cpp), which must give exactly their bits.
//
// keep: bit i % 8 of byte i / 8 is element i's decision, counted from bit
// `first_bit` where there is one. Keep buffers are padded: the loops may read
// up to 3 bytes past the last bit. x == y (in place) is allowed.
#pragma once

#include <cstddef>
#include <cstdint>

namespace simdrop::detail {

struct apply_loops {
  // y[i] = keep bit (first_bit + i) ? x[i] * s : +0.0f, for i in [0, n).
  void (*scale_f32)(const float* x, float* y, const uint8_t* keep, size_t first_bit, size_t n, float s);
  // y[i] = keep bit i ? x[i] * s : +0.0 (doubles).
  void (*scale_f64)(const double* x, double* y, const uint8_t* keep, size_t n, double s);
  // y[i] = keep bit i ? half(float(x[i]) * s) : +0, half() rounding to
  // nearest even: bfloat16, and IEEE binary16.
  void (*scale_bf16)(const uint16_t* x, uint16_t* y, const uint8_t* keep, size_t n, float s);
  void (*scale_f16)(const uint16_t* x, uint16_t* y, const uint8_t* keep, size_t n, float s);
  // y[i] = keep bit (first_bit + i) ? fmaf(x[i] + bias[i], s, residual[i]) : residual[i];
  // a NaN result is the first NaN among x, bias, residual, made quiet. y may
  // equal x or residual.
  void (*bias_dropout_add)(const float* x, const float* bias, const float* residual, float* y,
                           const uint8_t* keep, size_t first_bit, size_t n, float s);
};

// The portable loops (the reference for the ISAs' own).
const apply_loops& portable_apply_loops();

// The x86 ISAs' own (defined in their translation units, which are compiled
// together: the avx512 loops use avx2's bf16 loop on CPUs without AVX-512 BF16).
const apply_loops& avx2_apply_loops();    // F16C, FMA, AVX2 integer bf16 rounding
const apply_loops& avx512_apply_loops();  // bf16 from AVX-512 BF16 where the CPU has it, else avx2's

}  // namespace simdrop::detail
