// Argument checks shared by every entry point, so each rule is written once.
// Each returns SIMDROP_OK or the status the call must return (before writing).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>

#include "simdrop/simdrop.h"

namespace simdrop::detail {

// NULL params, keep_prob, threshold_bits, generator.
inline int check_params(const simdrop_params* p) {
  if (!p) return SIMDROP_ERR_NULL_PARAMS;
  const float k = p->keep_prob;
  if (!std::isfinite(k) || !(k >= 0.0f) || !(k <= 1.0f)) return SIMDROP_ERR_KEEP_PROB;
  if (p->threshold_bits != 16 && p->threshold_bits != 32) return SIMDROP_ERR_THRESHOLD_BITS;
  // Read the enum's bytes as an int: a caller's out-of-range value must not be
  // loaded as a simdrop_generator (undefined behaviour).
  int generator;
  static_assert(sizeof generator == sizeof p->generator, "simdrop_generator is int-sized");
  std::memcpy(&generator, &p->generator, sizeof generator);
  if (generator != SIMDROP_PHILOX4X32_10 && generator != SIMDROP_XOSHIRO128PP) return SIMDROP_ERR_GENERATOR;
  return SIMDROP_OK;
}

// Global indices offset .. offset + count - 1 must all exist (offset + count <= 2^64).
inline int check_index_range(uint64_t offset, uint64_t count) {
  if (count != 0 && count - 1 > UINT64_MAX - offset) return SIMDROP_ERR_INDEX_OVERFLOW;
  return SIMDROP_OK;
}

// a * b without wrapping, or SIMDROP_ERR_INDEX_OVERFLOW.
inline int checked_mul(size_t a, size_t b, size_t* out) {
  if (a != 0 && b > SIZE_MAX / a) return SIMDROP_ERR_INDEX_OVERFLOW;
  *out = a * b;
  return SIMDROP_OK;
}

// The checks every element-wise call starts with: params, data pointers
// non-null when n > 0, offset + n <= 2^64, and n elements of `element_bytes`
// addressable (n * element_bytes fits in size_t).
inline int check_call(const simdrop_params* p, size_t n, size_t element_bytes,
                      std::initializer_list<const void*> required) {
  if (int s = check_params(p)) return s;
  if (n != 0)
    for (const void* ptr : required)
      if (!ptr) return SIMDROP_ERR_NULL_POINTER;
  if (element_bytes != 0 && n > SIZE_MAX / element_bytes) return SIMDROP_ERR_INDEX_OVERFLOW;
  return check_index_range(p->offset, n);
}

// Bytes of a mask of n decisions: ceil(n / 8), written so that it cannot wrap
// for any n (n + 7 would, for n > SIZE_MAX - 7).
inline size_t mask_bytes(size_t n) { return n / 8 + (n % 8 != 0); }

// Half-open byte ranges [a, a + a_bytes) and [b, b + b_bytes) share a byte.
inline bool byte_ranges_overlap(const void* a, size_t a_bytes, const void* b, size_t b_bytes) {
  if (!a || !b || a_bytes == 0 || b_bytes == 0) return false;
  const uintptr_t pa = reinterpret_cast<uintptr_t>(a), pb = reinterpret_cast<uintptr_t>(b);
  return pa < pb + b_bytes && pb < pa + a_bytes;
}

// An input and an output of the same element type: exact aliasing (in place) is
// allowed, any other overlap is not.
inline bool partial_overlap(const void* in, const void* out, size_t bytes) {
  return in != out && byte_ranges_overlap(in, bytes, out, bytes);
}

}  // namespace simdrop::detail
