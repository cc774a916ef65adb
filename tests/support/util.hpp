// Small helpers shared by the tests: a fixed-seed test RNG (independent of the
// library), float bit patterns, first-mismatch search, and the knob that
// shrinks the heaviest loops when the suite runs under an emulator.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace simdrop_test {

// SplitMix64 (Steele, Lea, Flood): the tests' own source of random inputs.
class test_rng {
 public:
  explicit test_rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next_u64() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::uint32_t next_u32() { return std::uint32_t(next_u64() >> 32); }
  // Uniform in [0, bound) (bound > 0); the modulo bias is irrelevant for test inputs.
  std::uint64_t below(std::uint64_t bound) { return next_u64() % bound; }
  // Uniform in [lo, hi).
  float uniform(float lo, float hi) { return lo + (hi - lo) * float(next_u64() >> 40) * (1.0f / 16777216.0f); }

 private:
  std::uint64_t state_;
};

inline std::uint32_t float_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float float_from_bits(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Test inputs: ordinary values of both signs and magnitudes, with NaN, +-inf,
// -0, subnormals and huge values (whose product with s overflows) sprinkled in.
inline std::vector<float> test_inputs(std::size_t n, std::uint64_t seed) {
  test_rng rng(seed);
  std::vector<float> x(n);
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                            -std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            -0.0f,
                            0.0f,
                            std::numeric_limits<float>::denorm_min(),
                            -1e-40f,
                            std::numeric_limits<float>::max(),
                            -3e38f,
                            float_from_bits(0x7FA00001u) /* signalling NaN with a payload */};
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t r = rng.next_u64();
    if (r % 29 == 0)
      x[i] = specials[(r >> 8) % (sizeof specials / sizeof specials[0])];
    else
      x[i] = rng.uniform(-4.0f, 4.0f) * float(1u << ((r >> 16) % 8));
  }
  return x;
}

// Index of the first element where the bit patterns differ, or npos.
constexpr std::size_t npos = std::size_t(-1);

inline std::size_t first_float_mismatch(const float* a, const float* b, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (float_bits(a[i]) != float_bits(b[i])) return i;
  return npos;
}

template <class T>
std::size_t first_mismatch(const T* a, const T* b, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return i;
  return npos;
}

inline std::string hex(std::uint64_t v) {
  std::ostringstream s;
  s << "0x" << std::hex << v;
  return s.str();
}

// Describes element i of two float arrays (for INFO on a mismatch).
inline std::string describe_floats(const float* actual, const float* expected, std::size_t i) {
  if (i == npos) return "no mismatch";
  std::ostringstream s;
  s << "element " << i << ": actual " << actual[i] << " (" << hex(float_bits(actual[i])) << "), expected "
    << expected[i] << " (" << hex(float_bits(expected[i])) << ")";
  return s.str();
}

template <class T>
std::string describe_values(const T* actual, const T* expected, std::size_t i) {
  if (i == npos) return "no mismatch";
  std::ostringstream s;
  s << "element " << i << ": actual " << hex(std::uint64_t(actual[i])) << ", expected "
    << hex(std::uint64_t(expected[i]));
  return s.str();
}

// True when the heavy randomized loops should shrink: always in a
// cross-compiled (emulated) build, or when SIMDROP_TEST_REDUCED is set to
// something other than 0.
inline bool reduced_mode() {
#if defined(SIMDROP_TEST_REDUCED) && SIMDROP_TEST_REDUCED
  return true;
#else
  const char* v = std::getenv("SIMDROP_TEST_REDUCED");
  return v && *v && std::strcmp(v, "0") != 0;
#endif
}

inline std::size_t scaled_count(std::size_t full, std::size_t reduced) { return reduced_mode() ? reduced : full; }

// The same elements, byte for byte (NaN payloads and signed zeros included).
template <class T>
bool same_bytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

}  // namespace simdrop_test
