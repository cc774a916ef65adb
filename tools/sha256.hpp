// SHA-256 (FIPS 180-4), small and self-contained, for `simdrop hash`: the
// tool must not pull in a crypto library for one digest of a mask. Streaming:
// update() any number of times, then hex_digest() once.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace simdrop_cli {

class sha256 {
 public:
  sha256();
  void update(const void* data, size_t size);
  // Pads, finishes and returns the 64 lowercase hex digits; the object is spent after.
  std::string hex_digest();

 private:
  void compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> pending_{};
  size_t pending_size_ = 0;
  uint64_t total_bytes_ = 0;
};

}  // namespace simdrop_cli
