// The apply loops (kernels/apply_loops.hpp) for AVX2 machines (compiled with
// -mavx2 -mfma -mf16c): f16 scaling with F16C's vcvtph2ps / vcvtps2ph, bf16
// with the integer rounding of core/convert.hpp in 8 lanes, f64 scaling, and
// the fused bias-dropout-add with vfmadd. All give exactly the bits of the
// portable loops in src/scalar/apply_loops.cpp: F16C rounds to nearest even with
// subnormals, makes NaN quiet keeping its payload (as core/convert.hpp does),
// and an FMA instruction is fmaf.
//
// Everything here is in an anonymous namespace and uses intrinsics only, so no
// inline function compiled with AVX2 can replace a baseline copy at link time.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/apply_loops.hpp"

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

// Applies scale8(8 halves, scale, keep byte) to n 16-bit values, 8 at a time;
// the tail goes through a small buffer so nothing outside x and y is touched.
template <class Scale8>
void scale_16bit(const uint16_t* x, uint16_t* y, const uint8_t* keep, size_t n, float s, Scale8 scale8) {
  const __m256 vs = _mm256_set1_ps(s);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), scale8(h, vs, keep[i / 8]));
  }
  if (i < n) {
    uint16_t buffer[8] = {};
    std::memcpy(buffer, x + i, (n - i) * sizeof(uint16_t));
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(buffer));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(buffer), scale8(h, vs, keep[i / 8]));
    std::memcpy(y + i, buffer, (n - i) * sizeof(uint16_t));
  }
}

void scale_f16(const uint16_t* x, uint16_t* y, const uint8_t* keep, size_t n, float s) {
  scale_16bit(x, y, keep, n, s, scale_f16x8);
}

// bf16: widen (a shift), multiply, then round to nearest even in integers as
// core/convert.hpp does: add 0x7FFF plus the lowest kept bit; NaN lanes keep
// their top bits with the quiet bit set.
inline __m128i scale_bf16x8(__m128i h, __m256 s, unsigned bits) {
  const __m256 product = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)), s);
  const __m256i u = _mm256_castps_si256(product);
  const __m256i lowest_kept = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7FFF)), lowest_kept), 16);
  const __m256i quiet_nan = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x0040));
  const __m256i is_nan = _mm256_castps_si256(_mm256_cmp_ps(product, product, _CMP_UNORD_Q));
  r = _mm256_blendv_epi8(r, quiet_nan, is_nan);  // every lane now holds a value <= 0xFFFF
  const __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
  return _mm_and_si128(packed, keep_mask_epi16(bits));
}

void scale_bf16(const uint16_t* x, uint16_t* y, const uint8_t* keep, size_t n, float s) {
  scale_16bit(x, y, keep, n, s, scale_bf16x8);
}

// Doubles, 4 per vector: the low or high nibble of a keep byte.
inline __m256d keep_mask_pd(unsigned nibble) {
  const __m256i lane_bit = _mm256_setr_epi64x(1, 2, 4, 8);
  const __m256i set = _mm256_and_si256(_mm256_set1_epi64x(nibble), lane_bit);
  return _mm256_castsi256_pd(_mm256_cmpeq_epi64(set, lane_bit));
}

void scale_f64(const double* x, double* y, const uint8_t* keep, size_t n, double s) {
  const __m256d vs = _mm256_set1_pd(s);
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const unsigned nibble = (keep[i / 8] >> (i % 8)) & 0xFu;
    _mm256_storeu_pd(y + i, _mm256_and_pd(_mm256_mul_pd(_mm256_loadu_pd(x + i), vs), keep_mask_pd(nibble)));
  }
  for (; i < n; ++i) {
    const __m128d kept = _mm_mul_sd(_mm_load_sd(x + i), _mm_set_sd(s));
    _mm_store_sd(y + i, ((keep[i / 8] >> (i % 8)) & 1u) ? kept : _mm_setzero_pd());
  }
}

void scale_f32(const float* x, float* y, const uint8_t* keep, size_t first_bit, size_t n, float s) {
  const __m256 vs = _mm256_set1_ps(s);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 product = _mm256_mul_ps(_mm256_loadu_ps(x + i), vs);
    _mm256_storeu_ps(y + i, _mm256_and_ps(product, keep_mask_ps(keep_byte(keep, first_bit + i))));
  }
  if (i < n) {
    float buffer[8] = {};
    std::memcpy(buffer, x + i, (n - i) * sizeof(float));
    const __m256 product = _mm256_mul_ps(_mm256_loadu_ps(buffer), vs);
    _mm256_storeu_ps(buffer, _mm256_and_ps(product, keep_mask_ps(keep_byte(keep, first_bit + i))));
    std::memcpy(y + i, buffer, (n - i) * sizeof(float));
  }
}

// Kept lanes: fmaf(x + bias, s, residual); a NaN result is replaced by the
// first NaN among x, bias, residual made quiet (the rule of the portable loop,
// which IEEE and the FMA forms leave open). Dropped lanes: residual.
inline __m256 bias_dropout_add8(__m256 x, __m256 bias, __m256 residual, __m256 s, unsigned bits) {
  __m256 kept = _mm256_fmadd_ps(_mm256_add_ps(x, bias), s, residual);
  if (_mm256_movemask_ps(_mm256_cmp_ps(kept, kept, _CMP_UNORD_Q))) {
    const __m256 quiet = _mm256_castsi256_ps(_mm256_set1_epi32(0x00400000));
    kept = _mm256_blendv_ps(kept, _mm256_or_ps(residual, quiet), _mm256_cmp_ps(residual, residual, _CMP_UNORD_Q));
    kept = _mm256_blendv_ps(kept, _mm256_or_ps(bias, quiet), _mm256_cmp_ps(bias, bias, _CMP_UNORD_Q));
    kept = _mm256_blendv_ps(kept, _mm256_or_ps(x, quiet), _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
  }
  return _mm256_blendv_ps(residual, kept, keep_mask_ps(bits));
}

void bias_dropout_add(const float* x, const float* bias, const float* residual, float* y, const uint8_t* keep,
                      size_t first_bit, size_t n, float s) {
  const __m256 vs = _mm256_set1_ps(s);
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, bias_dropout_add8(_mm256_loadu_ps(x + i), _mm256_loadu_ps(bias + i),
                                              _mm256_loadu_ps(residual + i), vs, keep_byte(keep, first_bit + i)));
  if (i < n) {  // tail: through small buffers
    float bx[8] = {}, bb[8] = {}, br[8] = {};
    const size_t bytes = (n - i) * sizeof(float);
    std::memcpy(bx, x + i, bytes);
    std::memcpy(bb, bias + i, bytes);
    std::memcpy(br, residual + i, bytes);
    _mm256_storeu_ps(bx, bias_dropout_add8(_mm256_loadu_ps(bx), _mm256_loadu_ps(bb), _mm256_loadu_ps(br), vs,
                                           keep_byte(keep, first_bit + i)));
    std::memcpy(y + i, bx, bytes);
  }
}

}  // namespace

const apply_loops& avx2_apply_loops() {
  static const apply_loops loops{scale_f32, scale_f64, scale_bf16, scale_f16, bias_dropout_add};
  return loops;
}

}  // namespace simdrop::detail
