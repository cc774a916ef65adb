// Huge and extreme inputs (issue 6): global indices near 2^64 and across the
// 2^32, 2^34, 2^40 boundaries where counter words carry, one real call of more
// than 2^31 elements, and keep_prob at the edges of its range.
//
// Expected values come from a literal evaluation of docs/stream.md written in
// this file, on top of Random123's own Philox4x32-10 (r123::Philox4x32_R<10>)
// and the oracle's xoshiro128++ lane (support/oracle.hpp);
// nothing here calls the library's internal helpers. Every check runs on every
// implementation this CPU supports (each forced in turn).
#include <Random123/philox.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "simdrop/simdrop.h"
#include "support/implementations.hpp"
#include "support/oracle.hpp"
#include "support/util.hpp"

namespace {

// ---- The contract, literally ----------------------------------------------

uint32_t extreme_philox_word(uint64_t counter, uint64_t stream, uint64_t seed, unsigned j) {
  using philox = r123::Philox4x32_R<10>;
  const philox::ctr_type ctr = {{uint32_t(counter), uint32_t(counter >> 32), uint32_t(stream), uint32_t(stream >> 32)}};
  const philox::key_type key = {{uint32_t(seed), uint32_t(seed >> 32)}};
  return philox()(ctr, key).v[j];
}

// W[k] of the generator (0 = Philox, 1 = xoshiro128++).
uint32_t extreme_word(int generator, uint64_t seed, uint64_t stream, uint64_t k) {
  if (generator == SIMDROP_PHILOX4X32_10) {
    const uint64_t group = k / 64, r = k % 64, j = r / 16, q = 16 * group + r % 16;
    return extreme_philox_word(q, stream, seed, unsigned(j));
  }
  const uint64_t t = k / 4096, r = k % 4096, lane = r % 16, step = r / 16;
  const uint64_t m = (uint64_t(1) << 63) + 16 * t + lane;
  oracle::philox_counter block;
  for (unsigned j = 0; j < 4; ++j) block[j] = extreme_philox_word(m, stream, seed, j);
  oracle::xoshiro128pp lane_state = oracle::xoshiro_state_from_block(block);
  for (uint64_t i = 0; i < step; ++i) lane_state.next();
  return lane_state.next();
}

// T = floor(keep_prob * 2^bits + 0.5) in double; s = (float)(2^bits / T).
uint64_t extreme_threshold(float keep_prob, unsigned bits) {
  return uint64_t(std::floor(double(keep_prob) * std::ldexp(1.0, int(bits)) + 0.5));
}
float extreme_scale(uint64_t T, unsigned bits) { return T == 0 ? 0.0f : float(std::ldexp(1.0, int(bits)) / double(T)); }

bool extreme_keep(const simdrop_params& p, uint64_t g) {
  const uint64_t T = extreme_threshold(p.keep_prob, p.threshold_bits);
  if (p.threshold_bits == 32) return extreme_word(p.generator, p.seed, p.stream, g) < T;
  const uint64_t k = (g / 32) * 16 + g % 16, h = (g / 16) % 2;
  const uint32_t w = extreme_word(p.generator, p.seed, p.stream, k);
  return (h ? w >> 16 : w & 0xFFFFu) < T;
}

using simdrop_test::float_bits;

// ---- Implementations --------------------------------------------------------

simdrop_params extreme_params(int generator, unsigned bits, float keep_prob, uint64_t offset) {
  simdrop_params p = simdrop_params_default(keep_prob, 0xC0FFEE1234567890ull);
  p.stream = 0xFEDCBA9876543210ull;
  p.generator = generator == 0 ? SIMDROP_PHILOX4X32_10 : SIMDROP_XOSHIRO128PP;
  p.threshold_bits = bits;
  p.offset = offset;
  return p;
}

// Checks fill_u32, mask and forward (with mask) of n elements at `offset`
// against the literal contract, element by element.
void check_window(const simdrop_params& p, size_t n) {
  CAPTURE(p.generator, p.threshold_bits, p.offset, n);
  std::vector<uint32_t> words(n + 2, 0xDEADBEEFu);
  REQUIRE(simdrop_fill_u32(words.data() + 1, n, &p) == SIMDROP_OK);
  CHECK(words.front() == 0xDEADBEEFu);
  CHECK(words.back() == 0xDEADBEEFu);
  for (size_t i = 0; i < n; ++i) {
    CAPTURE(i);
    REQUIRE(words[i + 1] == extreme_word(p.generator, p.seed, p.stream, p.offset + i));
  }

  const size_t mask_bytes = (n + 7) / 8;
  std::vector<uint8_t> mask(mask_bytes + 2, 0xA5), fmask(mask_bytes + 2, 0x5A);
  std::vector<float> x(n), y(n + 2, -7.0f);
  for (size_t i = 0; i < n; ++i) x[i] = 1.0f + float(i % 97);
  REQUIRE(simdrop_mask(mask.data() + 1, n, &p) == SIMDROP_OK);
  REQUIRE(simdrop_forward_f32(x.data(), y.data() + 1, n, &p, fmask.data() + 1) == SIMDROP_OK);
  CHECK(mask.front() == 0xA5);
  CHECK(mask.back() == 0xA5);
  CHECK(fmask.front() == 0x5A);
  CHECK(fmask.back() == 0x5A);
  CHECK(float_bits(y.front()) == float_bits(-7.0f));
  CHECK(float_bits(y.back()) == float_bits(-7.0f));
  const float s = extreme_scale(extreme_threshold(p.keep_prob, p.threshold_bits), p.threshold_bits);
  for (size_t i = 0; i < n; ++i) {
    CAPTURE(i);
    const bool keep = extreme_keep(p, p.offset + i);
    REQUIRE(bool((mask[1 + i / 8] >> (i % 8)) & 1) == keep);
    REQUIRE(bool((fmask[1 + i / 8] >> (i % 8)) & 1) == keep);
    REQUIRE(float_bits(y[1 + i]) == (keep ? float_bits(x[i] * s) : 0u));
  }
  if (n % 8) {
    CHECK((mask[mask_bytes] >> (n % 8)) == 0);
    CHECK((fmask[mask_bytes] >> (n % 8)) == 0);
  }
}

constexpr uint64_t pow2(unsigned e) { return uint64_t(1) << e; }

}  // namespace

TEST_CASE("offsets near 2^64 give the contract's words and decisions", "[extreme]") {
  const std::string isa = GENERATE(from_range(simdrop_test::supported_implementations()));
  simdrop_test::forced_isa forced(isa);
  CAPTURE(isa);
  for (int generator : {0, 1})
    for (unsigned bits : {32u, 16u}) {
      // The very last elements: a call ending exactly at 2^64 and starting mid-group/tile.
      check_window(extreme_params(generator, bits, 0.6f, 0 - uint64_t(301)), 301);
      check_window(extreme_params(generator, bits, 0.6f, ~uint64_t(0)), 1);
      check_window(extreme_params(generator, bits, 0.3f, 0 - uint64_t(4096 + 77)), 4096 + 77);
      // Around 2^63 (the xoshiro seeding counters live at 2^63 + 16t; the element index does not).
      check_window(extreme_params(generator, bits, 0.5f, pow2(63) - 150), 300);
    }
}

TEST_CASE("calls crossing 2^31, 2^32, 2^34, 2^35, 2^36, 2^40 and 2^41 give the contract's words", "[extreme]") {
  // 2^32: the element index leaves 32 bits. 2^34 (Philox, 32-bit thresholds) and
  // 2^35 (16-bit): the counter q = 16 * group + lane reaches 2^32, so the carry into
  // counter word 1 happens. 2^40: the xoshiro seeding counter 2^63 + 16 t reaches
  // 2^32 in its low word (t = 2^28).
  const std::string isa = GENERATE(from_range(simdrop_test::supported_implementations()));
  simdrop_test::forced_isa forced(isa);
  CAPTURE(isa);
  for (unsigned e : {31u, 32u, 34u, 35u, 36u, 40u, 41u})
    for (int generator : {0, 1})
      for (unsigned bits : {32u, 16u}) {
        check_window(extreme_params(generator, bits, 0.7f, pow2(e) - 203), 411);
        // Starting exactly on the boundary, and a longer call that spans a whole xoshiro tile across it.
        check_window(extreme_params(generator, bits, 0.25f, pow2(e)), 37);
        if (e == 40) check_window(extreme_params(generator, bits, 0.5f, pow2(e) - 5000), 10000);
      }
}

TEST_CASE("offset + n beyond 2^64 is refused before anything is written", "[extreme]") {
  const std::string isa = GENERATE(from_range(simdrop_test::supported_implementations()));
  simdrop_test::forced_isa forced(isa);
  for (uint64_t n : {uint64_t(2), uint64_t(17), uint64_t(1000)}) {
    simdrop_params p = extreme_params(0, 32, 0.5f, 0 - n + 1);  // last index would be 2^64
    std::vector<uint32_t> words(n, 0x12345678u);
    std::vector<uint8_t> mask((n + 7) / 8, 0x77);
    std::vector<float> x(n, 1.0f), y(n, 3.0f);
    CHECK(simdrop_fill_u32(words.data(), n, &p) == SIMDROP_ERR_INDEX_OVERFLOW);
    CHECK(simdrop_mask(mask.data(), n, &p) == SIMDROP_ERR_INDEX_OVERFLOW);
    CHECK(simdrop_forward_f32(x.data(), y.data(), n, &p, mask.data()) == SIMDROP_ERR_INDEX_OVERFLOW);
    CHECK(simdrop_backward_f32(x.data(), y.data(), n, &p) == SIMDROP_ERR_INDEX_OVERFLOW);
    for (uint32_t w : words) REQUIRE(w == 0x12345678u);
    for (uint8_t b : mask) REQUIRE(b == 0x77);
    for (float v : y) REQUIRE(float_bits(v) == float_bits(3.0f));
    // One element less fits exactly.
    p.offset -= 1;
    CHECK(simdrop_fill_u32(words.data(), n, &p) == SIMDROP_OK);
    CHECK(words.back() == extreme_word(0, p.seed, p.stream, ~uint64_t(0)));
  }
}

TEST_CASE("a mask call of more than 2^31 elements is right at its start, its end and around 2^31 and 2^32",
          "[huge]") {
  // 2^31 + 2^20 + 5 elements (~268 MB of mask bits), starting at global index
  // 2^32 - 2^30 so that global index 2^32 falls inside, at element 2^30. Runs on
  // the detected implementation with every thread OpenMP allows.
  const size_t n = (size_t(1) << 31) + (size_t(1) << 20) + 5;
  const uint64_t offset = pow2(32) - pow2(30);
  const simdrop_params p = extreme_params(0, 32, 0.5f, offset);
  std::vector<uint8_t> mask((n + 7) / 8 + 1, 0xCC);
  REQUIRE(simdrop_mask(mask.data(), n, &p) == SIMDROP_OK);
  CHECK(mask.back() == 0xCC);
  CHECK((mask[n / 8] >> (n % 8)) == 0);  // unused bits of the last byte

  auto check_range = [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      CAPTURE(i, offset + i);
      REQUIRE(bool((mask[i / 8] >> (i % 8)) & 1) == extreme_keep(p, offset + i));
    }
  };
  check_range(0, 512);                                     // start
  check_range(n - 517, n);                                 // end
  check_range(pow2(31) - 300, pow2(31) + 300);             // element 2^31 of the call
  check_range(size_t(pow2(32) - offset) - 300, size_t(pow2(32) - offset) + 300);  // global index 2^32
  // A sparse sample across the whole call (every 2^24th element and its neighbours).
  for (size_t i = 4096; i + 2 < n; i += size_t(1) << 24) check_range(i - 1, i + 2);
}

TEST_CASE("keep_prob at the edges: thresholds and scales as the contract says, no inf or NaN", "[extreme]") {
  struct edge {
    const char* name;
    float keep_prob;
  };
  const edge edges[] = {
      {"smallest positive float", std::numeric_limits<float>::denorm_min()},
      {"2^-33", std::ldexp(1.0f, -33)},
      {"1.5 * 2^-33", 1.5f * std::ldexp(1.0f, -33)},
      {"2^-32", std::ldexp(1.0f, -32)},
      {"2^-17", std::ldexp(1.0f, -17)},
      {"2^-16", std::ldexp(1.0f, -16)},
      {"1 - 2^-24 (largest float below 1)", std::nextafter(1.0f, 0.0f)},
      {"1 - 2^-23", 1.0f - std::ldexp(1.0f, -23)},
      {"1 - 2^-17", 1.0f - std::ldexp(1.0f, -17)},
      {"1", 1.0f},
      {"0", 0.0f},
      {"-0", -0.0f},
  };
  REQUIRE(std::nextafter(1.0f, 0.0f) == 1.0f - std::ldexp(1.0f, -24));

  // Hand-worked values of the contract's formulas, as a check on the test's own arithmetic.
  CHECK(extreme_threshold(std::numeric_limits<float>::denorm_min(), 32) == 0);
  CHECK(extreme_threshold(std::ldexp(1.0f, -32), 32) == 1);
  CHECK(extreme_scale(1, 32) == std::ldexp(1.0f, 32));
  CHECK(extreme_threshold(std::ldexp(1.0f, -33), 32) == 1);  // 0.5 + 0.5 rounds up
  CHECK(extreme_threshold(std::nextafter(1.0f, 0.0f), 32) == pow2(32) - 256);
  CHECK(extreme_scale(pow2(32) - 256, 32) == 1.0f + std::ldexp(1.0f, -23));
  CHECK(extreme_threshold(std::nextafter(1.0f, 0.0f), 16) == pow2(16));  // keeps everything
  CHECK(extreme_threshold(std::ldexp(1.0f, -17), 16) == 1);
  CHECK(extreme_threshold(-0.0f, 32) == 0);

  const std::string isa = GENERATE(from_range(simdrop_test::supported_implementations()));
  simdrop_test::forced_isa forced(isa);
  const size_t n = 5000;
  std::vector<float> ones(n, 1.0f), big(n), y(n), dx(n);
  for (size_t i = 0; i < n; ++i) big[i] = (i % 2 ? -1.0f : 1.0f) * std::ldexp(1.0f, int(i % 90));  // up to 2^89
  std::vector<uint8_t> mask((n + 7) / 8), all_ones((n + 7) / 8, 0xFF);
  for (const edge& e : edges)
    for (int generator : {0, 1})
      for (unsigned bits : {32u, 16u}) {
        CAPTURE(isa, e.name, generator, bits);
        const simdrop_params p = extreme_params(generator, bits, e.keep_prob, 1000003);
        const uint64_t T = extreme_threshold(e.keep_prob, bits);
        const float s = extreme_scale(T, bits);
        REQUIRE(std::isfinite(s));

        // Forward on ones: every kept element shows the scale itself.
        REQUIRE(simdrop_forward_f32(ones.data(), y.data(), n, &p, mask.data()) == SIMDROP_OK);
        size_t kept = 0;
        for (size_t i = 0; i < n; ++i) {
          const bool keep = extreme_keep(p, p.offset + i);
          REQUIRE(bool((mask[i / 8] >> (i % 8)) & 1) == keep);
          REQUIRE(float_bits(y[i]) == (keep ? float_bits(s) : 0u));
          kept += keep;
        }
        if (T == 0) CHECK(kept == 0);
        if (T == pow2(bits)) CHECK(kept == n);

        // Large finite inputs: outputs are x * s or +0, never inf or NaN (|x| * s < FLT_MAX here).
        REQUIRE(simdrop_forward_f32(big.data(), y.data(), n, &p, nullptr) == SIMDROP_OK);
        for (size_t i = 0; i < n; ++i) {
          REQUIRE(std::isfinite(y[i]));
          REQUIRE(float_bits(y[i]) == (extreme_keep(p, p.offset + i) ? float_bits(big[i] * s) : 0u));
        }
        // Backward from an all-ones mask applies exactly s (0 when T == 0).
        REQUIRE(simdrop_backward_mask_f32(big.data(), all_ones.data(), dx.data(), n, &p) == SIMDROP_OK);
        for (size_t i = 0; i < n; ++i) {
          REQUIRE(std::isfinite(dx[i]));
          REQUIRE(float_bits(dx[i]) == float_bits(big[i] * s));
        }
      }
}

TEST_CASE("keep_prob just outside [0, 1] or not a number is refused, nothing written", "[extreme]") {
  const uint32_t bad[] = {0x3F800001u /* 1 + ulp */, 0x80000001u /* -denorm */, 0xBF800000u /* -1 */,
                          0x7F800000u, 0xFF800000u, 0x7FC00000u, 0xFFC00000u, 0x7F800001u /* signalling NaN */};
  std::vector<float> x(100, 1.0f), y(100, 2.0f);
  std::vector<uint8_t> mask(13, 0x3C);
  for (uint32_t b : bad) {
    float k;
    std::memcpy(&k, &b, 4);
    CAPTURE(b);
    const simdrop_params p = extreme_params(0, 32, k, 0);
    CHECK(simdrop_forward_f32(x.data(), y.data(), 100, &p, mask.data()) == SIMDROP_ERR_KEEP_PROB);
    CHECK(simdrop_mask(mask.data(), 100, &p) == SIMDROP_ERR_KEEP_PROB);
    CHECK(simdrop_backward_mask_f32(x.data(), mask.data(), y.data(), 100, &p) == SIMDROP_ERR_KEEP_PROB);
    for (float v : y) REQUIRE(v == 2.0f);
    for (uint8_t m : mask) REQUIRE(m == 0x3C);
  }
}
