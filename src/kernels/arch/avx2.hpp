// The "avx2" implementation (AVX2 + FMA + F16C): 8 lanes per vector, two ymm
// per word register, movemask for the mask bits.
//
// This header holds the ISA's types and operations and its generic kernels;
// each of its translation units (avx2.cpp, avx2_masks.cpp, avx2_halves.cpp,
// avx2_fused.cpp) defines SIMDROP_ENTRIES and includes it, and avx2.cpp also
// holds the table.
#pragma once

#include <immintrin.h>

#include "core/cpu_features.hpp"
#include "kernels/kernel_prelude.hpp"

namespace simdrop::kernels::avx2 {

using arch = xsimd::avx2;
#include "kernels/generic/types.inc"

struct ops {
  static constexpr bool has_streaming = true;
  static constexpr uintptr_t stream_alignment = 32;
  // bfloat16 rounding in integer lanes only (bf16_layout::rounded).
  static constexpr bool native_bf16 = false;
  static constexpr forward16_entry native_bf16_entry() { return nullptr; }

  // (hi, lo) of a * m per 32-bit lane; xsimd 8.1 has no 32x32->64 multiply.
  static void mulhilo(const u32& a, uint32_t m, u32& hi, u32& lo) {
    const __m256i mv = _mm256_set1_epi32(int(m));
    const __m256i even = _mm256_mul_epu32(a, mv);
    const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), mv);
    hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
    // The low words in one vpmulld rather than a shift and a blend of the two
    // products: one operation fewer per product (docs/kernels.md, "AVX2").
    lo = _mm256_mullo_epi32(a, mv);
  }
  // Philox in 64-bit lanes (see philox16_wide): full product of the low halves,
  // and the low halves of two vectors interleaved (a0 b0 a1 b1 ...).
  static constexpr bool philox_in_64bit_lanes = false;  // measured: 1.8x slower in 64-bit lanes (register spills)
  // 16 ymm registers, two per word: two groups in flight, pipelined, xoshiro
  // tiles in pairs. Measured by instructions per element and time against one
  // group, no pipelining and single tiles (docs/kernels.md, "AVX2").
  static constexpr unsigned philox_groups_in_flight = 2;
  static constexpr bool philox_pipelined = true;
  static constexpr bool xoshiro_tile_pairs = true;
  static xsimd::batch<uint64_t, arch> mul_low32(const xsimd::batch<uint64_t, arch>& a,
                                                const xsimd::batch<uint64_t, arch>& b) {
    return _mm256_mul_epu32(a, b);
  }
  static u32 pack_low32(const xsimd::batch<uint64_t, arch>& a, const xsimd::batch<uint64_t, arch>& b) {
    return _mm256_blend_epi32(a, _mm256_slli_epi64(b, 32), 0xAA);
  }
  static u32 pack_high32(const xsimd::batch<uint64_t, arch>& a, const xsimd::batch<uint64_t, arch>& b) {
    return _mm256_blend_epi32(_mm256_srli_epi64(a, 32), b, 0xAA);
  }
  // u < t for unsigned lanes: AVX2 compares only signed, and xsimd 8.1 builds
  // the unsigned compare from 128-bit halves (eight operations). Instead the
  // threshold is held as t - 1 (t >= 1: a job that decides at all) and
  // u < t is max(u, t - 1) == t - 1: two operations.
  static u32 threshold_vector(uint32_t t) { return u32(t - 1); }
  static b32 below(const u32& u, const u32& t_minus_1) {
    return b32(_mm256_cmpeq_epi32(_mm256_max_epu32(u, t_minus_1), t_minus_1));
  }
  // 16- and 8-bit fields by shifts and below() (decide.inc): no packed compare.
  static constexpr bool packed_field_compare = false;
  static uint32_t to_bits(const b32& keep) {
    return uint32_t(_mm256_movemask_ps(_mm256_castsi256_ps(keep)));
  }
  static fb32 as_float(const b32& keep) { return fb32(_mm256_castsi256_ps(keep)); }
  // The decisions of lanes 0-3 and 4-7 as masks of two double vectors (sign-extended).
  static b64 low_doubles(const b32& keep) {
    return b64(_mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(keep))));
  }
  static b64 high_doubles(const b32& keep) {
    return b64(_mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_extracti128_si256(keep, 1))));
  }
  static fb32 bits_to_mask(uint32_t bits) {
    const __m256i lane_bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    const __m256i set = _mm256_and_si256(_mm256_set1_epi32(int(bits)), lane_bit);
    return fb32(_mm256_castsi256_ps(_mm256_cmpeq_epi32(set, lane_bit)));
  }
  template <int Bits>
  static u32 rotl(const u32& x) {
    return (x << Bits) | (x >> (32 - Bits));
  }
  static f32 load_unfolded(const float* p) { return f32::load_unaligned(p); }  // no masked operands on AVX2
  // A vector split between two places (a 2-D view's row end): lanes 0 .. n-1
  // are a[0 .. n-1], lanes n .. 7 are b[0 .. 7-n] (n < 8). vmaskmovps: the
  // masked-off lanes touch no memory.
  static __m256i first_lanes(unsigned n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  // 16 ymm registers: a 2-D view's split vectors out of line, where they do
  // not take registers from the rounds (Zen 4, 32K floats, forward_2d_offset3:
  // 1.82 against 1.64 G elements/s inline).
  static constexpr bool split_out_of_line = true;
  static f32 load_split(const float* a, const float* b, unsigned n) {
    const __m256i first = first_lanes(n), rest = _mm256_xor_si256(first, _mm256_set1_epi32(-1));
    return _mm256_or_ps(_mm256_maskload_ps(a, first), _mm256_maskload_ps(elements_before(b, n), rest));
  }
  static void store_split(float* a, float* b, unsigned n, const f32& v) {
    const __m256i first = first_lanes(n), rest = _mm256_xor_si256(first, _mm256_set1_epi32(-1));
    _mm256_maskstore_ps(a, first, v);
    _mm256_maskstore_ps(elements_before(b, n), rest, v);
  }
  static f32 fma(const f32& a, const f32& b, const f32& c) { return _mm256_fmadd_ps(a, b, c); }  // a * b + c, one rounding
  // IEEE halves (F16C): exact widening, rounding to nearest even.
  static f32 load_halves(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static void store_halves(uint16_t* p, const f32& v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  }
  // bfloat16: widened by a shift; 8 lanes of values below 2^16 packed to 16 bits.
  static f32 load_bf16(const uint16_t* p) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
  static void store_bf16(uint16_t* p, const u32& v) {
    const __m256i lanes = v;
    const __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(lanes), _mm256_extracti128_si256(lanes, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), packed);
  }
  static void stream_store(float* p, const f32& v) { _mm256_stream_ps(p, v); }
  static void stream_store(double* p, const f64& v) { _mm256_stream_pd(p, v); }
  // The apply loops of the composed entries (kernels/apply_loops.hpp).
  static const detail::apply_loops& apply_loops() { return detail::avx2_apply_loops(); }
  static void stream_fence() { _mm_sfence(); }
};

#include "kernels/generic/kernels.inc"

}  // namespace simdrop::kernels::avx2
