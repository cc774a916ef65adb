// A validated call: the parameters of simdrop_params plus the derived
// threshold and scale. Everything below the C API works on a job, never on
// raw, unchecked parameters.
#pragma once

#include <cstdint>

#include "rng/stream.hpp"
#include "simdrop/simdrop.h"

namespace simdrop::detail {

struct job {
  simdrop_generator generator;
  uint32_t threshold_bits;  // 16 or 32
  uint64_t seed;
  uint64_t stream;
  uint64_t offset;     // global index of element 0 of the call
  uint64_t threshold;  // T in [0, 2^threshold_bits]
  float scale;         // (float)(2^bits / T), 0 when T == 0
  double scale64;      // 2^bits / T in double (the f64 calls), 0 when T == 0
  uint64_t call_elements;  // elements of the whole call (all threads): picks streaming stores

  bool keep_all() const { return threshold >> threshold_bits != 0; }  // T == 2^bits
  bool uniform() const { return threshold == 0 || keep_all(); }        // every decision the same
};

// Elements of one whole Philox group or xoshiro tile: the unit calls are cut
// into for threads, so that no range replays part of a group or tile.
inline uint64_t word_tiling_unit(const job& j);
inline uint64_t tiling_unit(const job& j) { return word_tiling_unit(j) * (32 / j.threshold_bits); }

// Words of one whole Philox group or xoshiro tile: the unit the raw word
// stream (fill_u32) is cut into.
inline uint64_t word_tiling_unit(const job& j) {
  return j.generator == SIMDROP_PHILOX4X32_10 ? rng::philox_group_words : rng::xoshiro_tile_words;
}

// The job of a validated call of `elements` elements (its data, all threads
// together): the parameters, with threshold and scales derived.
inline job make_job(const simdrop_params& p, uint64_t elements) {
  job j{};
  j.generator = p.generator;
  j.threshold_bits = p.threshold_bits;
  j.seed = p.seed;
  j.stream = p.stream;
  j.offset = p.offset;
  j.threshold = rng::threshold(p.keep_prob, p.threshold_bits);
  j.scale = rng::scale(j.threshold, p.threshold_bits);
  j.scale64 = rng::scale64(j.threshold, p.threshold_bits);
  j.call_elements = elements;
  return j;
}

}  // namespace simdrop::detail
