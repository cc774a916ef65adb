// Exact, portable conversions between float and the 16-bit storage types
// (bfloat16 and IEEE 754 binary16), written with integer operations only so
// that every CPU and compiler gives the same bits. They are the reference the
// F16C / AVX-512 BF16 fast paths (src/kernels/arch/*_convert.cpp) must match
// bit for bit.
//
// Rounding is round-to-nearest, ties to even, with gradual underflow
// (subnormal results are produced, never flushed) and overflow to infinity.
// NaN stays NaN: the sign and the top payload bits are kept and the result is
// made quiet, which is what x86 (F16C, AVX-512 BF16) and AArch64 conversion
// instructions do.
#pragma once

#include <cstdint>
#include <cstring>

namespace simdrop::detail {

inline uint32_t float_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// ---- bfloat16: the top 16 bits of a float -------------------------------------

// Exact: every bfloat16 is a float. A signalling NaN is returned unchanged (the
// dropout paths multiply it next, which makes it quiet).
inline float bf16_to_float(uint16_t h) { return bits_to_float(uint32_t(h) << 16); }

// Round to nearest even. Adding 0x7FFF plus the lowest kept bit rounds ties to
// even; a carry out of the mantissa moves into the exponent, which is the right
// answer, including overflow of the largest finite values to infinity.
// Written without branches so that compilers vectorise it.
inline uint16_t float_to_bf16(float f) {
  const uint32_t u = float_to_bits(f);
  const uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
  const uint32_t quiet_nan = (u >> 16) | 0x0040u;
  return uint16_t((u & 0x7FFFFFFFu) > 0x7F800000u ? quiet_nan : rounded);
}

// ---- IEEE binary16 (half): 1 sign, 5 exponent (bias 15), 10 mantissa bits ------

// Exact: every half is a float. NaN is made quiet (bit 22), payload kept.
inline float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  uint32_t mantissa = h & 0x3FFu;
  if (exponent == 0x1F)  // infinity or NaN
    return bits_to_float(sign | 0x7F800000u | (mantissa << 13) | (mantissa ? 0x00400000u : 0u));
  if (exponent == 0) {
    if (mantissa == 0) return bits_to_float(sign);  // signed zero
    // Subnormal: mantissa * 2^-24. Normalise so that bit 10 is the implicit one.
    uint32_t biased = 127 - 14;
    while (!(mantissa & 0x400u)) {
      mantissa <<= 1;
      --biased;
    }
    return bits_to_float(sign | (biased << 23) | ((mantissa & 0x3FFu) << 13));
  }
  return bits_to_float(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
}

// Round to nearest even, with half subnormals and overflow to infinity.
inline uint16_t float_to_half(float f) {
  const uint32_t u = float_to_bits(f);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u)  // NaN: quiet (0x0200), top 9 payload bits kept
    return uint16_t(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
  if (a >= 0x477FF000u)  // >= 65520 = halfway between 65504 and 2^16: infinity
    return uint16_t(sign | 0x7C00u);
  if (a >= 0x38800000u) {  // >= 2^-14: a normal half
    // Round at bit 13, then rebias the exponent from 127 to 15; a carry out of
    // the mantissa correctly bumps the exponent (never to infinity, see above).
    const uint32_t rounded = a + 0x0FFFu + ((a >> 13) & 1u) - ((127u - 15u) << 23);
    return uint16_t(sign | (rounded >> 13));
  }
  if (a <= 0x33000000u)  // <= 2^-25: rounds to zero (2^-25 itself is a tie, to even 0)
    return sign;
  // Subnormal half: units of 2^-24. The float is m * 2^(e - 150) with the
  // implicit bit in m, so the count of units is m >> (126 - e), rounded.
  const uint32_t m = (a & 0x7FFFFFu) | 0x800000u;
  const uint32_t shift = 126u - (a >> 23);  // 14 .. 24
  uint32_t units = m >> shift;
  const uint32_t rest = m & ((1u << shift) - 1u), halfway = 1u << (shift - 1);
  if (rest > halfway || (rest == halfway && (units & 1u))) ++units;  // may become 0x400: smallest normal
  return uint16_t(sign | units);
}

}  // namespace simdrop::detail
