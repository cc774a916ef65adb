// The portable apply loops (kernels/apply_loops.hpp): plain C++, the reference
// every ISA's own loops are tested against, bit for bit. The scalar
// implementation uses them, and so does any SIMD implementation for the loops
// it has nothing faster for.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/convert.hpp"
#include "kernels/apply_loops.hpp"
#include "kernels/keep_bits.hpp"

namespace simdrop::detail {
namespace {

// Branch-free: the select is done on the bits, so a dropped element is +0 even
// when x * s is NaN. The bits may start at any position.
void scale_f32(const float* x, float* y, const uint8_t* bits, size_t first_bit, size_t n, float s) {
  uint32_t keep[keep_block];
  uint8_t shifted[keep_block / 8];
  for (size_t b = 0; b < n; b += keep_block) {
    const size_t m = std::min(keep_block, n - b);
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

void scale_f64(const double* x, double* y, const uint8_t* bits, size_t n, double s) {
  uint64_t keep[keep_block];
  for (size_t b = 0; b < n; b += keep_block) {
    const size_t m = std::min(keep_block, n - b);
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

void scale_bf16(const uint16_t* x, uint16_t* y, const uint8_t* bits, size_t n, float s) {
  uint32_t keep[keep_block];
  for (size_t b = 0; b < n; b += keep_block) {
    const size_t m = std::min(keep_block, n - b);
    expand_bits(bits + b / 8, m, keep);
    for (size_t i = 0; i < m; ++i) y[b + i] = uint16_t(float_to_bf16(bf16_to_float(x[b + i]) * s) & keep[i]);
  }
}

void scale_f16(const uint16_t* x, uint16_t* y, const uint8_t* bits, size_t n, float s) {
  for (size_t i = 0; i < n; ++i) y[i] = bit_at(bits, i) ? float_to_half(half_to_float(x[i]) * s) : uint16_t(0);
}

inline bool is_nan_bits(uint32_t u) { return (u & 0x7FFFFFFFu) > 0x7F800000u; }

// IEEE 754 leaves open which NaN an operation with several NaN operands
// returns, and compilers and FMA forms differ in operand order. The fused call
// fixes it: the first NaN among x, bias, residual, made quiet; a NaN the
// arithmetic creates (inf - inf) is the hardware's default NaN.
float first_nan_operand(float x, float bias, float residual, float result) {
  for (const float v : {x, bias, residual})
    if (is_nan_bits(float_to_bits(v))) return bits_to_float(float_to_bits(v) | 0x00400000u);
  return result;
}

void bias_dropout_add(const float* x, const float* bias, const float* residual, float* y, const uint8_t* bits,
                      size_t first_bit, size_t n, float s) {
  for (size_t i = 0; i < n; ++i) {
    if (!bit_at(bits, first_bit + i)) {
      y[i] = residual[i];
      continue;
    }
    const float v = std::fma(x[i] + bias[i], s, residual[i]);
    y[i] = is_nan_bits(float_to_bits(v)) ? first_nan_operand(x[i], bias[i], residual[i], v) : v;
  }
}

}  // namespace

const apply_loops& portable_apply_loops() {
  static const apply_loops loops{scale_f32, scale_f64, scale_bf16, scale_f16, bias_dropout_add};
  return loops;
}

}  // namespace simdrop::detail
