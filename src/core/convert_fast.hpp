// Optional fast loops for the runtime-facing calls (src/api/extensions.cpp):
// bf16/f16 scaling with the CPU's own conversion instructions (F16C, AVX-512
// BF16), f64 scaling, and the fused bias-dropout-add with FMA instructions. Each loop must
// give exactly the bits of the portable loop in extensions.cpp (which uses
// core/convert.hpp); the tests compare them on all 65,536 inputs.
//
// The loops live in src/kernels/arch/avx2_convert.cpp and avx512_convert.cpp,
// compiled with their ISA's flags. This header only declares them: no inline
// code may be shared with those files (the linker could otherwise keep a copy
// built with wider instructions for the baseline code).
//
// A null entry means "no fast loop": the caller uses the portable one. The
// caller picks a table only when the active implementation is that ISA or a
// wider one, so forcing "scalar" always runs the portable code.
#pragma once

#include <cstddef>
#include <cstdint>

namespace simdrop::detail {

struct convert_fast_paths {
  // y[i] = bit i of keep ? half(float(x[i]) * s) : 0 for i in [0, n), where
  // half() rounds to nearest even (IEEE binary16). keep: bit i % 8 of byte i / 8,
  // readable up to byte n / 8 + 3. x == y allowed.
  void (*scale_f16)(const uint16_t* x, uint16_t* y, const uint8_t* keep, size_t n, float s);
  // The same for bfloat16.
  void (*scale_bf16)(const uint16_t* x, uint16_t* y, const uint8_t* keep, size_t n, float s);
  // y[i] = bit i of keep ? x[i] * s : +0.0 (doubles); keep as above.
  void (*scale_f64)(const double* x, double* y, const uint8_t* keep, size_t n, double s);
  // y[i] = keep bit (first_bit + i) ? x[i] * s : +0.0f for i in [0, n); keep
  // readable up to byte (first_bit + n) / 8 + 3. x == y allowed.
  void (*scale_f32)(const float* x, float* y, const uint8_t* keep, size_t first_bit, size_t n, float s);
  // y[i] = keep bit (first_bit + i) ? fmaf(x[i] + bias[i], s, residual[i]) : residual[i]
  // for i in [0, n); keep readable up to byte (first_bit + n) / 8 + 3.
  // A NaN result is the first NaN among x, bias, residual, made quiet (as in
  // the portable loop). y may equal x or residual.
  void (*bias_dropout_add)(const float* x, const float* bias, const float* residual, float* y,
                           const uint8_t* keep, size_t first_bit, size_t n, float s);
};

#if defined(SIMDROP_HAVE_AVX2)
// F16C halves, integer bf16 rounding, doubles, FMA.
const convert_fast_paths& avx2_convert_paths();
#endif
#if defined(SIMDROP_HAVE_AVX512)
// AVX-512 F/BW/VL with F16C; the bf16 entry is set only when the CPU has AVX-512 BF16.
const convert_fast_paths& avx512_convert_paths();
#endif

}  // namespace simdrop::detail
