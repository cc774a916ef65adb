// Scalar Philox4x32-10 (Random123's philox4x32 with 10 rounds), the one place
// its constants live. Every implementation, scalar or SIMD, uses these names.
#pragma once

#include <cstdint>

namespace simdrop::rng {

inline constexpr uint32_t philox_m0 = 0xD2511F53u;     // multiplier of counter word 0
inline constexpr uint32_t philox_m1 = 0xCD9E8D57u;     // multiplier of counter word 2
inline constexpr uint32_t philox_weyl0 = 0x9E3779B9u;  // key word 0 increment per round
inline constexpr uint32_t philox_weyl1 = 0xBB67AE85u;  // key word 1 increment per round
inline constexpr int philox_rounds = 10;

struct philox_block {
  uint32_t w[4];
};

inline void philox_mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t product = uint64_t(a) * uint64_t(b);
  hi = uint32_t(product >> 32);
  lo = uint32_t(product);
}

inline philox_block philox4x32_10(const uint32_t ctr_in[4], const uint32_t key_in[2]) {
  uint32_t c0 = ctr_in[0], c1 = ctr_in[1], c2 = ctr_in[2], c3 = ctr_in[3];
  uint32_t k0 = key_in[0], k1 = key_in[1];
  for (int round = 0; round < philox_rounds; ++round) {
    if (round > 0) {
      k0 += philox_weyl0;
      k1 += philox_weyl1;
    }
    uint32_t hi0, lo0, hi1, lo1;
    philox_mulhilo(philox_m0, c0, hi0, lo0);
    philox_mulhilo(philox_m1, c2, hi1, lo1);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0;
    c1 = n1;
    c2 = n2;
    c3 = n3;
  }
  return philox_block{{c0, c1, c2, c3}};
}

inline constexpr uint32_t lo32(uint64_t v) { return uint32_t(v); }
inline constexpr uint32_t hi32(uint64_t v) { return uint32_t(v >> 32); }

// philox4x32_10 with ctr = {lo(counter), hi(counter), lo(stream), hi(stream)}, key = {lo(seed), hi(seed)}.
inline philox_block philox_at(uint64_t counter, uint64_t stream, uint64_t seed) {
  const uint32_t ctr[4] = {lo32(counter), hi32(counter), lo32(stream), hi32(stream)};
  const uint32_t key[2] = {lo32(seed), hi32(seed)};
  return philox4x32_10(ctr, key);
}

}  // namespace simdrop::rng
