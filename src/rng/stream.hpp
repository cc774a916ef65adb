// The stream contract's index arithmetic (docs/stream.md), in one place.
//
// Words: each generator defines a word stream W[k]. Both lay words out in
// "registers" of 16 consecutive words that come from 16 lanes computed side by
// side, so that any SIMD width (4, 8 or 16 lanes) produces the same order:
//  - Philox: a group of 64 words is 16 counters x 4 output words; register j
//    of the group holds output word j of counters 16*group + 0..15.
//  - xoshiro128++: a tile of 4096 words is 16 lanes x 256 steps; register
//    `step` of the tile holds output `step` of lanes 0..15.
// Decisions: element g uses word g (32-bit thresholds), a 16-bit half of
// word (g/32)*16 + g%16 (16-bit thresholds: one word register serves 32
// elements, low halves for the first 16 and high halves for the next 16), or
// byte (g/16)%4 of word (g/64)*16 + g%16 (8-bit thresholds: one register
// serves 64 elements, byte b of its words for elements 16b .. 16b + 15).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace simdrop::rng {

inline constexpr unsigned lanes = 16;               // words per register, every ISA
inline constexpr unsigned philox_group_words = 64;  // 16 counters x 4 words
inline constexpr unsigned philox_group_registers = 4;
inline constexpr unsigned xoshiro_tile_words = 4096;  // 16 lanes x 256 steps
inline constexpr unsigned xoshiro_tile_registers = 256;
inline constexpr uint64_t xoshiro_seed_base = uint64_t(1) << 63;

// Philox counter of lane `lane` in group `group`: q = 16*group + lane.
inline constexpr uint64_t philox_counter(uint64_t group, uint32_t lane) { return 16 * group + lane; }

// Counter that seeds lane `lane` of xoshiro tile `tile`: m = 2^63 + 16*tile + lane.
inline constexpr uint64_t xoshiro_seed_counter(uint64_t tile, uint32_t lane) {
  return xoshiro_seed_base + 16 * tile + lane;
}

// Elements decided by one word register: 16 (32-bit thresholds), 32 (16-bit) or 64 (8-bit).
inline constexpr unsigned elements_per_register(uint32_t threshold_bits) { return lanes * (32 / threshold_bits); }

// The threshold field of element e of a word register (e < elements_per_register):
// bits threshold_bits * (e / 16) .. of word e % 16.
inline constexpr uint32_t register_field(const uint32_t* words, unsigned e, uint32_t threshold_bits) {
  const uint32_t w = words[e % lanes] >> (threshold_bits * (e / lanes));
  return threshold_bits == 32 ? w : w & ((uint32_t(1) << threshold_bits) - 1);
}

// Bytes of a mask of n decisions (bit i % 8 of byte i / 8 is decision i):
// ceil(n / 8), written so that it cannot wrap for any n (n + 7 would, for
// n > SIZE_MAX - 7).
inline constexpr size_t mask_bytes(size_t n) { return n / 8 + (n % 8 != 0); }

// T = floor(keep_prob * 2^bits + 0.5), computed in double; in [0, 2^bits].
inline uint64_t threshold(float keep_prob, uint32_t threshold_bits) {
  return uint64_t(std::floor(double(keep_prob) * std::ldexp(1.0, int(threshold_bits)) + 0.5));
}

// s = (float)(2^bits / T); 0 when T == 0 (no element is kept, so s is never used).
inline float scale(uint64_t threshold_value, uint32_t threshold_bits) {
  if (threshold_value == 0) return 0.0f;
  return float(std::ldexp(1.0, int(threshold_bits)) / double(threshold_value));
}

// The scale of the f64 calls: 2^bits / T in double; 0 when T == 0.
inline double scale64(uint64_t threshold_value, uint32_t threshold_bits) {
  return threshold_value == 0 ? 0.0 : std::ldexp(1.0, int(threshold_bits)) / double(threshold_value);
}

}  // namespace simdrop::rng
