// Fast loops of the runtime-facing calls for AVX2 machines (compiled with
// -mavx2 -mfma -mf16c): f16 scaling with F16C's vcvtph2ps / vcvtps2ph and the
// fused bias-dropout-add with vfmadd. Both give exactly the bits of the
// portable loops in src/api/extensions.cpp: F16C rounds to nearest even with
// subnormals, makes NaN quiet keeping its payload (as core/convert.hpp does),
// and an FMA instruction is fmaf.
//
// Everything here is in an anonymous namespace and uses intrinsics only, so no
// inline function compiled with AVX2 can replace a baseline copy at link time.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/convert_fast.hpp"
#include "core/cpu_features.hpp"

namespace simdrop::detail {
namespace {

// 8 keep bits (bit i for lane i) as lane masks.
inline __m128i keep_mask_epi16(unsigned bits) {
  const __m128i lane_bit = _mm_setr_epi16(1, 2, 4, 8, 16, 32, 64, 128);
  return _mm_cmpeq_epi16(_mm_and_si128(_mm_set1_epi16(short(bits)), lane_bit), lane_bit);
}

inline __m256 keep_mask_ps(unsigned bits) {
  const __m256i lane_bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  return _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(int(bits)), lane_bit), lane_bit));
}

// The 8 keep bits starting at bit `first` (any bit position).
inline unsigned keep_byte(const uint8_t* keep, size_t first) {
  const size_t at = first / 8;
  return ((unsigned(keep[at]) | (unsigned(keep[at + 1]) << 8)) >> (first % 8)) & 0xFFu;
}

inline __m128i scale_f16x8(__m128i h, __m256 s, unsigned bits) {
  const __m256 product = _mm256_mul_ps(_mm256_cvtph_ps(h), s);
  return _mm_and_si128(_mm256_cvtps_ph(product, _MM_FROUND_TO_NEAREST_INT), keep_mask_epi16(bits));
}

void scale_f16(const uint16_t* x, uint16_t* y, const uint8_t* keep, size_t n, float s) {
  const __m256 vs = _mm256_set1_ps(s);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), scale_f16x8(h, vs, keep[i / 8]));
  }
  if (i < n) {  // tail: through a small buffer
    uint16_t buffer[8] = {};
    std::memcpy(buffer, x + i, (n - i) * sizeof(uint16_t));
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(buffer));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(buffer), scale_f16x8(h, vs, keep[i / 8]));
    std::memcpy(y + i, buffer, (n - i) * sizeof(uint16_t));
  }
}

void bias_dropout_add(const float* x, const float* bias, const float* residual, float* y, const uint8_t* keep,
                      size_t first_bit, size_t n, float s) {
  const __m256 vs = _mm256_set1_ps(s);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 r = _mm256_loadu_ps(residual + i);
    const __m256 kept = _mm256_fmadd_ps(_mm256_add_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(bias + i)), vs, r);
    _mm256_storeu_ps(y + i, _mm256_blendv_ps(r, kept, keep_mask_ps(keep_byte(keep, first_bit + i))));
  }
  for (; i < n; ++i) {
    const size_t bit = first_bit + i;
    const __m128 r = _mm_load_ss(residual + i);
    if ((keep[bit / 8] >> (bit % 8)) & 1u) {
      const __m128 sum = _mm_add_ss(_mm_load_ss(x + i), _mm_load_ss(bias + i));
      _mm_store_ss(y + i, _mm_fmadd_ss(sum, _mm_set_ss(s), r));
    } else {
      _mm_store_ss(y + i, r);
    }
  }
}

convert_fast_paths make_table() {
  convert_fast_paths t{nullptr, nullptr, nullptr};
  const cpu_features& cpu = host_cpu_features();
  if (cpu.f16c) t.scale_f16 = scale_f16;
  if (cpu.avx2_fma) t.bias_dropout_add = bias_dropout_add;
  return t;
}

}  // namespace

const convert_fast_paths& avx2_convert_paths() {
  static const convert_fast_paths table = make_table();
  return table;
}

}  // namespace simdrop::detail
