// The test oracle: the stream contract of docs/stream.md evaluated literally,
// one element at a time, with nothing taken from src/. It has its own
// Philox4x32-10, its own xoshiro128++, its own word-index arithmetic, threshold,
// scale and mask-bit layout, so that a mistake in the library's helpers cannot
// hide behind the same mistake in the tests. Slow on purpose: every word is
// recomputed from its counter (xoshiro words replay their lane from step 0).
//
// Only the public header is used, for simdrop_params and the generator values.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "simdrop/simdrop.h"

namespace oracle {

using u32 = std::uint32_t;
using u64 = std::uint64_t;
using philox_counter = std::array<u32, 4>;
using philox_key = std::array<u32, 2>;

// Philox4x32-10 exactly as Salmon et al. (SC'11) and Random123 define it: ten
// rounds, the key is bumped by the Weyl constants between rounds.
inline philox_counter philox4x32_10(philox_counter ctr, philox_key key) {
  constexpr u32 multiplier_a = 0xD2511F53u, multiplier_b = 0xCD9E8D57u;
  constexpr u32 weyl_a = 0x9E3779B9u, weyl_b = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const u64 product_a = u64(multiplier_a) * ctr[0];
    const u64 product_b = u64(multiplier_b) * ctr[2];
    const u32 hi_a = u32(product_a >> 32), lo_a = u32(product_a);
    const u32 hi_b = u32(product_b >> 32), lo_b = u32(product_b);
    ctr = philox_counter{hi_b ^ ctr[1] ^ key[0], lo_b, hi_a ^ ctr[3] ^ key[1], lo_a};
    key[0] += weyl_a;
    key[1] += weyl_b;
  }
  return ctr;
}

inline u32 low_word(u64 v) { return u32(v & 0xFFFFFFFFu); }
inline u32 high_word(u64 v) { return u32(v >> 32); }

// The contract's Philox call: ctr = {lo(counter), hi(counter), lo(stream), hi(stream)}, key = {lo(seed), hi(seed)}.
inline philox_counter philox_block(u64 counter, u64 stream, u64 seed) {
  return philox4x32_10({low_word(counter), high_word(counter), low_word(stream), high_word(stream)},
                       {low_word(seed), high_word(seed)});
}

// xoshiro128++ (Blackman and Vigna, xoshiro128plusplus.c), written from the paper.
struct xoshiro128pp {
  u32 s[4];
  static u32 rotate_left(u32 v, int r) { return (v << r) | (v >> (32 - r)); }
  u32 next() {
    const u32 result = rotate_left(s[0] + s[3], 7) + s[0];
    const u32 t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotate_left(s[3], 11);
    return result;
  }
};

// The contract's seeding rule: the four Philox words, except that an all-zero
// state (a fixed point of xoshiro) becomes s0 = 1.
inline xoshiro128pp xoshiro_state_from_block(const philox_counter& block) {
  xoshiro128pp state{{block[0], block[1], block[2], block[3]}};
  if (block[0] == 0 && block[1] == 0 && block[2] == 0 && block[3] == 0) state.s[0] = 1;
  return state;
}

// W[k] of the Philox word stream.
inline u32 philox_word(u64 seed, u64 stream, u64 k) {
  const u64 group = k / 64, r = k % 64, j = r / 16;
  const u64 q = 16 * group + r % 16;
  return philox_block(q, stream, seed)[j];
}

// W[k] of the xoshiro128++ word stream: replay the lane from its seed.
inline u32 xoshiro_word(u64 seed, u64 stream, u64 k) {
  const u64 t = k / 4096, r = k % 4096, lane = r % 16, step = r / 16;
  const u64 m = (u64(1) << 63) + 16 * t + lane;
  xoshiro128pp state = xoshiro_state_from_block(philox_block(m, stream, seed));
  for (u64 i = 0; i < step; ++i) state.next();
  return state.next();
}

inline u32 word(const simdrop_params& p, u64 k) {
  return p.generator == SIMDROP_PHILOX4X32_10 ? philox_word(p.seed, p.stream, k) : xoshiro_word(p.seed, p.stream, k);
}

inline double two_to_the(u32 bits) { return bits == 32 ? 4294967296.0 : bits == 16 ? 65536.0 : 256.0; }

// T = floor(keep_prob * 2^bits + 0.5), in double.
inline u64 threshold(float keep_prob, u32 bits) {
  return u64(std::floor(double(keep_prob) * two_to_the(bits) + 0.5));
}

// s = (float)(2^bits / T). (Infinite when T == 0, where nothing is kept.)
inline float scale(float keep_prob, u32 bits) {
  return float(two_to_the(bits) / double(threshold(keep_prob, bits)));
}

// The keep/drop decision of global element g.
inline bool keep(const simdrop_params& p, u64 g) {
  const u64 t = threshold(p.keep_prob, p.threshold_bits);
  if (p.threshold_bits == 32) return u64(word(p, g)) < t;
  if (p.threshold_bits == 16) {
    const u64 k = (g / 32) * 16 + g % 16;
    const u64 h = (g / 16) % 2;
    const u32 w = word(p, k);
    const u32 u = h ? (w >> 16) : (w & 0xFFFFu);
    return u64(u) < t;
  }
  // 8 bits: k = (g / 64) * 16 + g % 16, b = (g / 16) % 4, u = (W[k] >> (8*b)) & 0xFF.
  const u64 k = (g / 64) * 16 + g % 16;
  const u64 b = (g / 16) % 4;
  const u32 u = (word(p, k) >> (8 * b)) & 0xFFu;
  return u64(u) < t;
}

// Decisions of elements 0..n-1 of a call (global index p.offset + i).
inline std::vector<bool> decisions(const simdrop_params& p, std::size_t n) {
  std::vector<bool> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = keep(p, p.offset + i);
  return out;
}

// The words a fill_u32 call must return.
inline std::vector<u32> words(const simdrop_params& p, std::size_t n) {
  std::vector<u32> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = word(p, p.offset + i);
  return out;
}

// Kept: x * s, one float multiply. Dropped: +0.0f whatever x is.
inline float apply(bool kept, float x, float s) { return kept ? x * s : 0.0f; }

// Forward (and backward) output of a call.
inline std::vector<float> forward(const simdrop_params& p, const float* x, std::size_t n) {
  const float s = scale(p.keep_prob, p.threshold_bits);
  std::vector<float> y(n);
  for (std::size_t i = 0; i < n; ++i) y[i] = apply(keep(p, p.offset + i), x[i], s);
  return y;
}

// Mask bytes of a call: bit i % 8 of byte i / 8 is element i (relative to the
// call); unused bits of the last byte are 0.
inline std::vector<std::uint8_t> mask_bytes(const std::vector<bool>& kept) {
  std::vector<std::uint8_t> out((kept.size() + 7) / 8, 0);
  for (std::size_t i = 0; i < kept.size(); ++i)
    if (kept[i]) out[i / 8] = std::uint8_t(out[i / 8] | (1u << (i % 8)));
  return out;
}

inline bool mask_bit(const std::uint8_t* mask, std::size_t i) { return (mask[i / 8] >> (i % 8)) & 1u; }

// backward_mask_f32: dx[i] = bit i ? dy[i] * s : +0.
inline std::vector<float> backward_with_mask(const simdrop_params& p, const float* dy, const std::uint8_t* mask,
                                             std::size_t n) {
  const float s = scale(p.keep_prob, p.threshold_bits);
  std::vector<float> dx(n);
  for (std::size_t i = 0; i < n; ++i) dx[i] = apply(mask_bit(mask, i), dy[i], s);
  return dx;
}

}  // namespace oracle
