// The apply loops (kernels/apply_loops.hpp) for AVX-512 machines (compiled with
// -mavx512f/cd/dq/bw/vl -mavx2 -mfma -mf16c): 16 lanes, opmask registers for
// the keep bits and the tails.
//  - f16: vcvtph2ps / vcvtps2ph (RNE, subnormals kept, NaN made quiet).
//  - bf16: vcvtneps2bf16 (AVX-512 BF16, checked at run time). It rounds to
//    nearest even and makes NaN quiet with the top payload bits, exactly as
//    core/convert.hpp does, but it treats subnormal inputs as zero: those
//    lanes (exponent field 0) are redone with the integer rounding.
//  - f64: 8 lanes, masked by one keep byte; f32 (2-D blocks, channels): 16.
//  - fused bias-dropout-add: vfmadd, blend by the keep bits.
// The tests check every loop against the portable one on all 65,536 inputs.
//
// Everything here is in an anonymous namespace and uses intrinsics only, so no
// inline function compiled with AVX-512 can replace a baseline copy at link time.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "kernels/apply_loops.hpp"
#include "core/cpu_features.hpp"

namespace simdrop::detail {
namespace {

// The 16 keep bits starting at bit `first` (any bit position).
inline __mmask16 keep_bits16(const uint8_t* keep, size_t first) {
  const size_t at = first / 8;
  const uint32_t window = uint32_t(keep[at]) | (uint32_t(keep[at + 1]) << 8) | (uint32_t(keep[at + 2]) << 16);
  return __mmask16((window >> (first % 8)) & 0xFFFFu);
}

inline __mmask16 first_lanes(size_t count) { return count >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << count) - 1u); }

// Whole vectors use plain loads and stores, the tail masked ones. The plain
// loads are hidden from the compiler's operand folding: as the memory operand
// of a masked (fault-suppressing) instruction, a load that misses the cache is
// several times slower on AMD Zen 5 (see ops::load_unfolded in avx512.cpp).
template <class V>
inline V opaque(V v) {
  asm("" : "+v"(v));
  return v;
}
// load_<suffix><Tail>(p, lanes) and store_<suffix><Tail>(p, lanes, v) of one vector type.
#define SIMDROP_TAIL_LOAD_STORE(suffix, V, M, T, maskz_load, plain_load, mask_store, plain_store) \
  template <bool Tail>                                                                             \
  inline V load_##suffix(const T* p, M m) {                                                        \
    return Tail ? maskz_load(m, p) : opaque(plain_load(p));                                        \
  }                                                                                                \
  template <bool Tail>                                                                             \
  inline void store_##suffix(T* p, M m, V v) {                                                     \
    Tail ? mask_store(p, m, v) : plain_store(p, v);                                                \
  }
inline __m256i loadu_256(const uint16_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline void storeu_256(uint16_t* p, __m256i v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
SIMDROP_TAIL_LOAD_STORE(ps, __m512, __mmask16, float, _mm512_maskz_loadu_ps, _mm512_loadu_ps, _mm512_mask_storeu_ps,
                        _mm512_storeu_ps)
SIMDROP_TAIL_LOAD_STORE(pd, __m512d, __mmask8, double, _mm512_maskz_loadu_pd, _mm512_loadu_pd,
                        _mm512_mask_storeu_pd, _mm512_storeu_pd)
SIMDROP_TAIL_LOAD_STORE(epi16, __m256i, __mmask16, uint16_t, _mm256_maskz_loadu_epi16, loadu_256,
                        _mm256_mask_storeu_epi16, storeu_256)
#undef SIMDROP_TAIL_LOAD_STORE

// Runs step.template operator()<false>(i, all lanes) on whole vectors of
// `width` lanes, then <true>(i, first lanes) on the tail, if any.
template <unsigned Width, class Step>
inline void vectors(size_t n, Step&& step) {
  size_t i = 0;
  for (; i + Width <= n; i += Width) step(std::false_type{}, i);
  if (i < n) step(std::true_type{}, i);
}

void scale_f16(const uint16_t* x, uint16_t* y, const uint8_t* keep, size_t n, float s) {
  const __m512 vs = _mm512_set1_ps(s);
  vectors<16>(n, [&](auto tail, size_t i) {
    constexpr bool Tail = decltype(tail)::value;
    const __mmask16 lanes = first_lanes(n - i);
    const __m256i h = load_epi16<Tail>(x + i, lanes);
    const __m512 product = _mm512_mul_ps(_mm512_cvtph_ps(h), vs);
    const __m256i r = _mm512_cvtps_ph(product, _MM_FROUND_TO_NEAREST_INT);
    store_epi16<Tail>(y + i, lanes, _mm256_maskz_mov_epi16(keep_bits16(keep, i), r));
  });
}

__attribute__((target("avx512bf16"))) void scale_bf16(const uint16_t* x, uint16_t* y, const uint8_t* keep,
                                                       size_t n, float s) {
  const __m512 vs = _mm512_set1_ps(s);
  const __m512i exponent = _mm512_set1_epi32(0x7F800000);
  const __m512i round_bias = _mm512_set1_epi32(0x7FFF), one = _mm512_set1_epi32(1);
  vectors<16>(n, [&](auto tail, size_t i) __attribute__((target("avx512bf16"))) {
    constexpr bool Tail = decltype(tail)::value;
    const __mmask16 lanes = first_lanes(n - i);
    const __m256i h = load_epi16<Tail>(x + i, lanes);
    const __m512 product = _mm512_mul_ps(_mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)), vs);
    __m256i r = (__m256i)_mm512_cvtneps_pbh(product);
    // Zero or subnormal products: the instruction flushes them; round exactly.
    const __m512i u = _mm512_castps_si512(product);
    const __mmask16 tiny = _mm512_testn_epi32_mask(u, exponent);
    if (tiny) {
      const __m512i lowest_kept = _mm512_and_si512(_mm512_srli_epi32(u, 16), one);
      const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, round_bias), lowest_kept), 16);
      r = _mm256_mask_mov_epi16(r, tiny, _mm512_cvtepi32_epi16(rounded));
    }
    store_epi16<Tail>(y + i, lanes, _mm256_maskz_mov_epi16(keep_bits16(keep, i), r));
  });
}

void scale_f64(const double* x, double* y, const uint8_t* keep, size_t n, double s) {
  const __m512d vs = _mm512_set1_pd(s);
  vectors<8>(n, [&](auto tail, size_t i) {
    constexpr bool Tail = decltype(tail)::value;
    const __mmask8 lanes = n - i >= 8 ? __mmask8(0xFF) : __mmask8((1u << (n - i)) - 1u);
    const __m512d product = _mm512_mul_pd(load_pd<Tail>(x + i, lanes), vs);
    store_pd<Tail>(y + i, lanes, _mm512_maskz_mov_pd(__mmask8(keep[i / 8]), product));
  });
}

void scale_f32(const float* x, float* y, const uint8_t* keep, size_t first_bit, size_t n, float s) {
  const __m512 vs = _mm512_set1_ps(s);
  vectors<16>(n, [&](auto tail, size_t i) {
    constexpr bool Tail = decltype(tail)::value;
    const __mmask16 lanes = first_lanes(n - i);
    const __m512 product = _mm512_mul_ps(load_ps<Tail>(x + i, lanes), vs);
    store_ps<Tail>(y + i, lanes, _mm512_maskz_mov_ps(keep_bits16(keep, first_bit + i), product));
  });
}

// Kept lanes: fmaf(x + bias, s, residual); a NaN result is replaced by the
// first NaN among x, bias, residual made quiet (the rule of the portable loop,
// which IEEE and the FMA forms leave open). Dropped lanes: residual.
void bias_dropout_add(const float* x, const float* bias, const float* residual, float* y, const uint8_t* keep,
                      size_t first_bit, size_t n, float s) {
  const __m512 vs = _mm512_set1_ps(s);
  const __m512i quiet = _mm512_set1_epi32(0x00400000);
  vectors<16>(n, [&](auto tail, size_t i) {
    constexpr bool Tail = decltype(tail)::value;
    const __mmask16 lanes = first_lanes(n - i);
    const __m512 r = load_ps<Tail>(residual + i, lanes);
    const __m512 xv = load_ps<Tail>(x + i, lanes), bv = load_ps<Tail>(bias + i, lanes);
    __m512 kept = _mm512_fmadd_ps(_mm512_add_ps(xv, bv), vs, r);
    if (_mm512_cmp_ps_mask(kept, kept, _CMP_UNORD_Q)) {
      auto quieted = [&](__m512 v) { return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(v), quiet)); };
      kept = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(r, r, _CMP_UNORD_Q), kept, quieted(r));
      kept = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(bv, bv, _CMP_UNORD_Q), kept, quieted(bv));
      kept = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(xv, xv, _CMP_UNORD_Q), kept, quieted(xv));
    }
    store_ps<Tail>(y + i, lanes, _mm512_mask_blend_ps(keep_bits16(keep, first_bit + i), r, kept));
  });
}

}  // namespace

// Every loop its own, but bf16 without AVX-512 BF16: then avx2's integer
// rounding (the avx512 implementation requires AVX2 as well).
const apply_loops& avx512_apply_loops() {
  static const apply_loops loops{scale_f32, scale_f64,
                                 host_cpu_features().avx512_bf16 ? scale_bf16 : avx2_apply_loops().scale_bf16,
                                 scale_f16, bias_dropout_add};
  return loops;
}

}  // namespace simdrop::detail
