// Keep bits in a buffer: reading one, a byte at any bit position, copying a
// run of them into a caller's mask, and widening them into all-ones / zero
// lanes. Baseline code for the portable apply loops and the composed entries
// (never included by an ISA's translation unit).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace simdrop::detail {

inline bool bit_at(const uint8_t* bits, size_t i) { return (bits[i / 8] >> (i % 8)) & 1u; }

// The 8 bits first_bit .. first_bit + 7 as one byte (reads one byte past the
// last bit: callers use padded buffers).
inline uint8_t byte_at(const uint8_t* bits, size_t first_bit) {
  const size_t at = first_bit / 8;
  return uint8_t((unsigned(bits[at]) | (unsigned(bits[at + 1]) << 8)) >> (first_bit % 8));
}

// Copies bits first_bit .. first_bit + n - 1 to whole bytes at out (ceil(n / 8)
// bytes, unused bits of the last one 0).
inline void copy_bits(const uint8_t* bits, size_t first_bit, size_t n, uint8_t* out) {
  for (size_t k = 0; k < n / 8; ++k) out[k] = byte_at(bits, first_bit + 8 * k);
  if (n % 8) out[n / 8] = uint8_t(byte_at(bits, first_bit + n / 8 * 8) & ((1u << (n % 8)) - 1u));
}

// Elements per widening block: keeps the expanded keep masks in L1 next to the data.
constexpr size_t keep_block = 512;

// byte_lanes.lanes[b]: byte k is 0xFF when bit k of b is set, else 0x00.
struct byte_lane_table {
  uint64_t lanes[256];
  constexpr byte_lane_table() : lanes() {
    for (unsigned b = 0; b < 256; ++b)
      for (unsigned k = 0; k < 8; ++k)
        if (b & (1u << k)) lanes[b] |= uint64_t(0xFF) << (8 * k);
  }
};
inline constexpr byte_lane_table byte_lanes{};

// keep[i] = all ones or zero for bits 0 .. n - 1 (bit i % 8 of bits[i / 8]).
// Spreading a byte through the table, then widening with sign extension,
// keeps both loops branch-free and vectorisable.
template <class Word>
void expand_bits(const uint8_t* bits, size_t n, Word* keep) {
  int8_t lanes[keep_block];
  for (size_t b = 0; b < n; b += keep_block) {
    const size_t m = n - b < keep_block ? n - b : keep_block;
    for (size_t j = 0; j < (m + 7) / 8; ++j) std::memcpy(lanes + 8 * j, &byte_lanes.lanes[bits[b / 8 + j]], 8);
    for (size_t i = 0; i < m; ++i) keep[b + i] = Word(lanes[i]);  // -1: all ones
  }
}

}  // namespace simdrop::detail
