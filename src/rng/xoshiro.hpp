// Scalar xoshiro128++ (Blackman and Vigna) and the contract's per-lane seeding.
#pragma once

#include <cstdint>

#include "rng/philox.hpp"
#include "rng/stream.hpp"

namespace simdrop::rng {

inline constexpr uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

struct xoshiro128pp {
  uint32_t s0, s1, s2, s3;

  // Returns the next output and advances the state.
  uint32_t next() {
    const uint32_t result = rotl32(s0 + s3, 7) + s0;
    const uint32_t t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl32(s3, 11);
    return result;
  }
};

// The state of `lane` of xoshiro tile `tile` (contract: m = 2^63 + 16 t + lane).
inline xoshiro128pp xoshiro_lane_state(uint64_t tile, uint32_t lane, uint64_t stream, uint64_t seed) {
  const philox_block b = philox_at(xoshiro_seed_counter(tile, lane), stream, seed);
  xoshiro128pp s{b.w[0], b.w[1], b.w[2], b.w[3]};
  if ((s.s0 | s.s1 | s.s2 | s.s3) == 0) s.s0 = 1;
  return s;
}

}  // namespace simdrop::rng
