// Portable generation of the contract's word registers (16 words each), one
// Philox group or one xoshiro step at a time. No SIMD code: this is the
// reference every fast path is compared with.
#pragma once

#include <cstdint>

#include "core/job.hpp"
#include "rng/philox.hpp"
#include "rng/stream.hpp"
#include "rng/xoshiro.hpp"

namespace simdrop::scalar {

class word_source {
 public:
  explicit word_source(const detail::job& j) : job_(j) {}

  // The 16 words of word register `reg` (words 16*reg .. 16*reg + 15).
  // Cheapest when registers are requested in increasing order.
  const uint32_t* word_register(uint64_t reg) {
    return job_.generator == SIMDROP_PHILOX4X32_10 ? philox_register(reg) : xoshiro_register(reg);
  }

 private:
  const uint32_t* philox_register(uint64_t reg) {
    const uint64_t group = reg / rng::philox_group_registers;
    if (!have_group_ || group != group_) {
      for (uint32_t lane = 0; lane < rng::lanes; ++lane) {
        const rng::philox_block b = rng::philox_at(rng::philox_counter(group, lane), job_.stream, job_.seed);
        for (unsigned j = 0; j < 4; ++j) group_words_[j * rng::lanes + lane] = b.w[j];
      }
      group_ = group;
      have_group_ = true;
    }
    return group_words_ + (reg % rng::philox_group_registers) * rng::lanes;
  }

  const uint32_t* xoshiro_register(uint64_t reg) {
    const uint64_t tile = reg / rng::xoshiro_tile_registers;
    const uint32_t step = uint32_t(reg % rng::xoshiro_tile_registers);
    if (have_output_ && tile == tile_ && step + 1 == next_step_) return output_;
    if (!have_output_ || tile != tile_ || step < next_step_) {
      for (uint32_t lane = 0; lane < rng::lanes; ++lane)
        lanes_[lane] = rng::xoshiro_lane_state(tile, lane, job_.stream, job_.seed);
      tile_ = tile;
      next_step_ = 0;
    }
    for (; next_step_ <= step; ++next_step_)
      for (uint32_t lane = 0; lane < rng::lanes; ++lane) output_[lane] = lanes_[lane].next();
    have_output_ = true;
    return output_;
  }

  detail::job job_;
  // Philox: the 64 words of the current group, register-major.
  bool have_group_ = false;
  uint64_t group_ = 0;
  uint32_t group_words_[rng::philox_group_words];
  // xoshiro: lane states after output next_step_ - 1 of tile tile_.
  bool have_output_ = false;
  uint64_t tile_ = 0;
  uint32_t next_step_ = 0;
  rng::xoshiro128pp lanes_[rng::lanes];
  uint32_t output_[rng::lanes];
};

}  // namespace simdrop::scalar
