// The "avx512" implementation (AVX-512 F, CD, BW, DQ, VL, and BMI2): 16 lanes per
// vector, so one word register is one zmm, the compare's k-mask is the mask
// bits and selects zero by masking.
//
// This header holds the ISA's types and operations and its generic kernels;
// each of its translation units (avx512.cpp, avx512_masks.cpp, avx512_halves.cpp,
// avx512_fused.cpp) defines SIMDROP_ENTRIES and includes it, and avx512.cpp also
// holds the table.
#pragma once

#include <immintrin.h>

#include "core/cpu_features.hpp"
#include "kernels/kernel_prelude.hpp"

// The bf16 entry of the same kernels compiled with AVX-512 BF16 as well
// (avx512_bf16.cpp: its own namespace, so that none of its inline functions can
// stand in for this unit's at link time on a CPU without it).
namespace simdrop::kernels::avx512_bf16 {
void forward_bf16(const detail::job&, const uint16_t* x, uint16_t* y, uint8_t* mask, size_t begin, size_t end);
}

#ifndef SIMDROP_AVX512_NAMESPACE
#define SIMDROP_AVX512_NAMESPACE avx512
#endif
namespace simdrop::kernels::SIMDROP_AVX512_NAMESPACE {

using arch = xsimd::avx512bw;
#include "kernels/generic/types.inc"

struct ops {
  static constexpr bool has_streaming = true;
  static constexpr uintptr_t stream_alignment = 64;

  // (hi, lo) of a * m per 32-bit lane; xsimd 8.1 has no 32x32->64 multiply.
  static void mulhilo(const u32& a, uint32_t m, u32& hi, u32& lo) {
    const __m512i mv = _mm512_set1_epi32(int(m));
    const __m512i even = _mm512_mul_epu32(a, mv);
    const __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), mv);
    hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
    lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  }
  // Philox in 64-bit lanes (see philox16_wide): full product of the low halves,
  // and the low halves of two vectors interleaved (a0 b0 a1 b1 ...): vpshufd
  // swaps the halves of b's 64-bit lanes, and writes only the odd lanes.
  static constexpr bool philox_in_64bit_lanes = true;
  // 32 zmm registers: three groups in flight (4 spill), pipelined, tile pairs (docs/kernels.md).
  static constexpr unsigned philox_groups_in_flight = 3;
  static constexpr bool philox_pipelined = true;
  static constexpr bool xoshiro_tile_pairs = true;
  static xsimd::batch<uint64_t, arch> mul_low32(const xsimd::batch<uint64_t, arch>& a,
                                                const xsimd::batch<uint64_t, arch>& b) {
    return _mm512_mul_epu32(a, b);
  }
  static u32 pack_low32(const xsimd::batch<uint64_t, arch>& a, const xsimd::batch<uint64_t, arch>& b) {
    return _mm512_mask_shuffle_epi32(a, __mmask16(0xAAAA), b, _MM_PERM_CDAB);
  }
  static u32 pack_high32(const xsimd::batch<uint64_t, arch>& a, const xsimd::batch<uint64_t, arch>& b) {
    return _mm512_mask_shuffle_epi32(b, __mmask16(0x5555), a, _MM_PERM_CDAB);  // a1 b1 a3 b3 ...
  }
  // 16- and 8-bit fields by one packed compare each (vpcmpuw, vpcmpub).
  static constexpr bool packed_field_compare = true;
  // 16-bit decisions of a word register: one compare of the 32 halves, whose
  // interleaved mask bits (low half of lane i at bit 2i) are split by pext.
  // u < t: one vpcmpud.
  static u32 threshold_vector(uint32_t t) { return u32(t); }
  static b32 below(const u32& u, const u32& t) { return u < t; }
  static void decide16(const u32& w, const u32& t_pair, b32& low, b32& high) {
    const uint32_t bits = _mm512_cmplt_epu16_mask(w, t_pair);
    low = b32(__mmask16(_pext_u32(bits, 0x55555555u)));
    high = b32(__mmask16(_pext_u32(bits, 0xAAAAAAAAu)));
  }
  // 8-bit decisions: one compare of the 64 bytes (byte b of lane i at bit
  // 4i + b), split into four 16-lane masks by pext.
  static void decide8(const u32& w, const u32& t_bytes, b32 (&keep)[4]) {
    const uint64_t bits = _mm512_cmplt_epu8_mask(w, t_bytes);
    for (unsigned b = 0; b < 4; ++b) keep[b] = b32(__mmask16(_pext_u64(bits, 0x1111111111111111ull << b)));
  }
  static uint32_t to_bits(const b32& keep) { return uint32_t(keep.data); }
  static fb32 as_float(const b32& keep) { return fb32(keep.data); }
  // The decisions of lanes 0-7 and 8-15 as masks of two double vectors.
  static b64 low_doubles(const b32& keep) { return b64(__mmask8(keep.data)); }
  static b64 high_doubles(const b32& keep) { return b64(__mmask8(keep.data >> 8)); }
  static fb32 bits_to_mask(uint32_t bits) { return fb32(__mmask16(bits)); }
  template <int Bits>
  static u32 rotl(const u32& x) {
    return _mm512_rol_epi32(x, Bits);
  }
  // x and dy are loaded by a plain load the compiler cannot fold into the
  // masked (zeroing) multiply: as a masked, fault-suppressing memory operand
  // a load that misses the cache is several times slower on AMD Zen 5
  // (measured at 4M floats, one thread: Philox 16-bit 1.8 vs 8.3 G elements/s).
  static f32 load_unfolded(const float* p) {
    __m512 v = _mm512_loadu_ps(p);
    asm("" : "+v"(v));
    return v;
  }
  // A vector split between two places (a 2-D view's row end): lanes 0 .. n-1
  // are a[0 .. n-1], lanes n .. 15 are b[0 .. 15-n] (n < 16). Masked loads and
  // stores: the masked-off lanes touch no memory.
  static __mmask16 first_lanes(unsigned n) { return __mmask16(_bzhi_u32(0xFFFFu, n)); }
  static constexpr bool split_out_of_line = false;  // 32 zmm registers: inline
  static f32 load_split(const float* a, const float* b, unsigned n) {
    const __m512 low = _mm512_maskz_loadu_ps(first_lanes(n), a);
    return _mm512_mask_loadu_ps(low, __mmask16(~first_lanes(n)), elements_before(b, n));
  }
  static void store_split(float* a, float* b, unsigned n, const f32& v) {
    _mm512_mask_storeu_ps(a, first_lanes(n), v);
    _mm512_mask_storeu_ps(elements_before(b, n), __mmask16(~first_lanes(n)), v);
  }
  static f32 fma(const f32& a, const f32& b, const f32& c) { return _mm512_fmadd_ps(a, b, c); }  // a * b + c, one rounding
  // IEEE halves (F16C, which every AVX-512 processor has): exact widening, rounding to nearest even.
  static f32 load_halves(const uint16_t* p) {
    __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    asm("" : "+v"(h));  // a plain load, as load_unfolded
    return _mm512_cvtph_ps(h);
  }
  static void store_halves(uint16_t* p, const f32& v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  }
  // bfloat16: widened by a shift; 16 lanes of values below 2^16 narrowed by vpmovdw.
  static f32 load_bf16(const uint16_t* p) {
    __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    asm("" : "+v"(h));  // a plain load, as load_unfolded
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  static void store_bf16(uint16_t* p, const u32& v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(v));
  }
#if defined(__AVX512BF16__)
  // The avx512_bf16 unit: vcvtneps2bf16 rounds to nearest even and makes a NaN
  // quiet with its top bits, exactly as bf16_layout::rounded, but flushes
  // subnormal inputs to zero. So a vector with a subnormal lane is left to the
  // integer rounding (false); zeros and the rest take the one instruction,
  // dropped lanes zeroed by its mask.
  static constexpr bool native_bf16 = true;
  static bool store_bf16_native(uint16_t* p, const b32& keep, const f32& v) {
    if (_mm512_fpclass_ps_mask(v, 0x20)) return false;  // 0x20: the subnormal class
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), (__m256i)_mm512_maskz_cvtneps_pbh(keep.data, v));
    return true;
  }
  static constexpr forward16_entry native_bf16_entry() { return nullptr; }  // this unit is the native one
#else
  // bf16 jobs go to the avx512_bf16 unit where the CPU has AVX-512 BF16
  // (SIMDROP_NO_AVX512_BF16=1 in the environment turns it off, for tests).
  static constexpr bool native_bf16 = false;
  static forward16_entry native_bf16_entry() {
    return detail::host_cpu_features().avx512_bf16 ? avx512_bf16::forward_bf16 : nullptr;
  }
#endif
  static void stream_store(float* p, const f32& v) { _mm512_stream_ps(p, v); }
  static void stream_store(double* p, const f64& v) { _mm512_stream_pd(p, v); }
  // The apply loops of the composed entries (kernels/apply_loops.hpp).
  static const detail::apply_loops& apply_loops() { return detail::avx512_apply_loops(); }
  static void stream_fence() { _mm_sfence(); }
};

#include "kernels/generic/kernels.inc"

}  // namespace simdrop::kernels::SIMDROP_AVX512_NAMESPACE
