// The six generator x threshold-width combinations every contract test runs,
// and a parameter set built from one of them.
#pragma once

#include <cstdint>

#include "simdrop/simdrop.h"

namespace simdrop_test {

struct generator_width {
  simdrop_generator generator;
  std::uint32_t threshold_bits;
  const char* name;
};

inline constexpr generator_width all_generator_widths[] = {
    {SIMDROP_PHILOX4X32_10, 32, "philox/32"},
    {SIMDROP_PHILOX4X32_10, 16, "philox/16"},
    {SIMDROP_XOSHIRO128PP, 32, "xoshiro/32"},
    {SIMDROP_XOSHIRO128PP, 16, "xoshiro/16"},
    {SIMDROP_PHILOX4X32_10, 8, "philox/8"},
    {SIMDROP_XOSHIRO128PP, 8, "xoshiro/8"},
};

inline simdrop_params make_params(float keep_prob, std::uint64_t seed, std::uint64_t stream, std::uint64_t offset,
                                  simdrop_generator generator, std::uint32_t threshold_bits);

inline simdrop_params make_params(const generator_width& gw, float keep_prob, std::uint64_t seed,
                                  std::uint64_t stream, std::uint64_t offset) {
  return make_params(keep_prob, seed, stream, offset, gw.generator, gw.threshold_bits);
}

// A parameter set from its fields.
inline simdrop_params make_params(float keep_prob, std::uint64_t seed, std::uint64_t stream, std::uint64_t offset,
                                  simdrop_generator generator, std::uint32_t threshold_bits) {
  simdrop_params p = simdrop_params_default(keep_prob, seed);
  p.generator = generator;
  p.threshold_bits = threshold_bits;
  p.stream = stream;
  p.offset = offset;
  return p;
}

}  // namespace simdrop_test
