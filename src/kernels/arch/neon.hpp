// The "neon" implementation (AArch64 AdvSIMD): 4 lanes per vector, four q
// registers per word register; vmull for Philox's 32x32->64 multiply.
//
// This header holds the ISA's types and operations and its generic kernels;
// each of its translation units (neon.cpp, neon_masks.cpp, neon_halves.cpp,
// neon_fused.cpp) defines SIMDROP_ENTRIES and includes it, and neon.cpp also
// holds the table.
#pragma once

#include <arm_neon.h>

#include "core/cpu_features.hpp"
#include "kernels/kernel_prelude.hpp"

namespace simdrop::kernels::neon {

using arch = xsimd::neon64;
#include "kernels/generic/types.inc"

struct ops {
  static constexpr bool has_streaming = false;  // no non-temporal vector store used here
  static constexpr uintptr_t stream_alignment = 16;
  // bfloat16 rounding in integer lanes only (bf16_layout::rounded).
  static constexpr bool native_bf16 = false;
  static constexpr forward16_entry native_bf16_entry() { return nullptr; }

  // (hi, lo) of a * m per 32-bit lane; xsimd 8.1 has no 32x32->64 multiply.
  static void mulhilo(const u32& a, uint32_t m, u32& hi, u32& lo) {
    const uint32x4_t av = a;
    const uint64x2_t low = vmull_u32(vget_low_u32(av), vdup_n_u32(m));
    const uint64x2_t high = vmull_high_u32(av, vdupq_n_u32(m));
    hi = vuzp2q_u32(vreinterpretq_u32_u64(low), vreinterpretq_u32_u64(high));
    lo = vuzp1q_u32(vreinterpretq_u32_u64(low), vreinterpretq_u32_u64(high));
  }
  // vmull gives both product halves of 32-bit lanes cheaply: no 64-bit-lane variant.
  static constexpr bool philox_in_64bit_lanes = false;
  // 32 q registers, but four per word: one group in flight, pipelined, tile pairs.
  static constexpr unsigned philox_groups_in_flight = 1;
  static constexpr bool philox_pipelined = true;
  static constexpr bool xoshiro_tile_pairs = true;
  static xsimd::batch<uint64_t, arch> mul_low32(const xsimd::batch<uint64_t, arch>& a,
                                                const xsimd::batch<uint64_t, arch>&) {
    return a;  // unused
  }
  static u32 pack_low32(const xsimd::batch<uint64_t, arch>& a, const xsimd::batch<uint64_t, arch>&) {
    return vreinterpretq_u32_u64(a);  // unused
  }
  static u32 pack_high32(const xsimd::batch<uint64_t, arch>& a, const xsimd::batch<uint64_t, arch>&) {
    return vreinterpretq_u32_u64(a);  // unused
  }
  // u < t: one vcltq_u32.
  static u32 threshold_vector(uint32_t t) { return u32(t); }
  static b32 below(const u32& u, const u32& t) { return u < t; }
  // 16- and 8-bit fields by shifts and below() (decide.inc): no packed compare.
  static constexpr bool packed_field_compare = false;
  static uint32_t to_bits(const b32& keep) {
    const uint32x4_t lane_bit = {1, 2, 4, 8};
    return vaddvq_u32(vandq_u32(keep, lane_bit));
  }
  static fb32 as_float(const b32& keep) { return fb32(keep.data); }
  // The decisions of lanes 0-1 and 2-3 as masks of two double vectors (sign-extended).
  static b64 low_doubles(const b32& keep) {
    return b64(vreinterpretq_u64_s64(vmovl_s32(vget_low_s32(vreinterpretq_s32_u32(keep.data)))));
  }
  static b64 high_doubles(const b32& keep) {
    return b64(vreinterpretq_u64_s64(vmovl_high_s32(vreinterpretq_s32_u32(keep.data))));
  }
  static fb32 bits_to_mask(uint32_t bits) {
    const uint32x4_t lane_bit = {1, 2, 4, 8};
    return fb32(vtstq_u32(vdupq_n_u32(bits), lane_bit));
  }
  template <int Bits>
  static u32 rotl(const u32& x) {
    return vsliq_n_u32(vshrq_n_u32(x, 32 - Bits), x, Bits);
  }
  static f32 load_unfolded(const float* p) { return f32::load_unaligned(p); }
  // A vector split between two places (a 2-D view's row end): lanes 0 .. n-1
  // are a[0 .. n-1], lanes n .. 3 are b[0 .. 3-n] (n < 4), through a buffer
  // (no masked memory operations).
  static constexpr bool split_out_of_line = false;  // 32 q registers: inline
  static f32 load_split(const float* a, const float* b, unsigned n) {
    alignas(16) float lanes[4];
    for (unsigned j = 0; j < 4; ++j) lanes[j] = j < n ? a[j] : b[j - n];
    return f32::load_aligned(lanes);
  }
  static void store_split(float* a, float* b, unsigned n, const f32& v) {
    alignas(16) float lanes[4];
    v.store_aligned(lanes);
    for (unsigned j = 0; j < 4; ++j) (j < n ? a[j] : b[j - n]) = lanes[j];
  }
  static f32 fma(const f32& a, const f32& b, const f32& c) { return vfmaq_f32(c, a, b); }  // a * b + c, one rounding
  // IEEE halves (AArch64 conversions, rounding per FPCR: to nearest even).
  static f32 load_halves(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
  static void store_halves(uint16_t* p, const f32& v) { vst1_u16(p, vreinterpret_u16_f16(vcvt_f16_f32(v))); }
  // bfloat16: widened by a shift; 4 lanes of values below 2^16 narrowed.
  static f32 load_bf16(const uint16_t* p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }
  static void store_bf16(uint16_t* p, const u32& v) { vst1_u16(p, vmovn_u32(v)); }
  static void stream_store(float* p, const f32& v) { v.store_unaligned(p); }
  static void stream_store(double* p, const f64& v) { v.store_unaligned(p); }
  // The apply loops of the composed entries (kernels/apply_loops.hpp).
  static const detail::apply_loops& apply_loops() { return detail::portable_apply_loops(); }
  static void stream_fence() {}
};

#include "kernels/generic/kernels.inc"

}  // namespace simdrop::kernels::neon
