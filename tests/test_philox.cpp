// Philox4x32-10: Random123's published known-answer vectors, 10^5 random
// counters and keys against Random123's own header, and the Philox word
// stream's layout (16 counters per register, 4 registers per group) checked
// against Random123 directly, once per implementation.
#include <catch2/catch.hpp>

#include <Random123/philox.h>

#include <array>
#include <cstdint>
#include <vector>

#include "simdrop/simdrop.h"
#include "support/guarded.hpp"
#include "support/implementations.hpp"
#include "support/oracle.hpp"
#include "support/util.hpp"

using simdrop_test::test_rng;

namespace {

struct known_answer {
  const char* name;
  std::uint32_t ctr[4];
  std::uint32_t key[2];
  std::uint32_t expected[4];
};

// Random123, tests/kat_vectors: the three "philox4x32 10" lines (ctr, key, expected).
const known_answer philox4x32_10_kat[] = {
    {"all zeros", {0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u}, {0x00000000u, 0x00000000u},
     {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
    {"all ones", {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu},
     {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
    {"digits of pi", {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u},
     {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
};

std::array<std::uint32_t, 4> random123_philox(const std::uint32_t ctr[4], const std::uint32_t key[2]) {
  r123::Philox4x32_R<10> generator;
  const r123::Philox4x32_R<10>::ctr_type c = {{ctr[0], ctr[1], ctr[2], ctr[3]}};
  const r123::Philox4x32_R<10>::key_type k = {{key[0], key[1]}};
  const r123::Philox4x32_R<10>::ctr_type out = generator(c, k);
  return {out[0], out[1], out[2], out[3]};
}

std::array<std::uint32_t, 4> library_philox(const std::uint32_t ctr[4], const std::uint32_t key[2]) {
  std::uint32_t out[4] = {0xDEADBEEFu, 0xDEADBEEFu, 0xDEADBEEFu, 0xDEADBEEFu};
  simdrop_philox4x32_10(ctr, key, out);
  return {out[0], out[1], out[2], out[3]};
}

}  // namespace

TEST_CASE("philox4x32_10 reproduces Random123's known-answer vectors", "[philox][kat]") {
  for (const known_answer& kat : philox4x32_10_kat) {
    INFO("vector: " << kat.name);
    const std::array<std::uint32_t, 4> expected = {kat.expected[0], kat.expected[1], kat.expected[2],
                                                   kat.expected[3]};
    CHECK(library_philox(kat.ctr, kat.key) == expected);
    CHECK(random123_philox(kat.ctr, kat.key) == expected);
    CHECK(oracle::philox4x32_10({kat.ctr[0], kat.ctr[1], kat.ctr[2], kat.ctr[3]}, {kat.key[0], kat.key[1]}) ==
          expected);
  }
}

TEST_CASE("philox4x32_10 equals Random123's Philox4x32_R<10> on 10^5 random counters and keys",
          "[philox][random123]") {
  test_rng rng(0x5eed'0001'2345'6789ull);
  std::size_t library_mismatches = 0, oracle_mismatches = 0;
  for (int trial = 0; trial < 100000; ++trial) {
    std::uint32_t ctr[4], key[2];
    for (std::uint32_t& c : ctr) c = rng.next_u32();
    for (std::uint32_t& k : key) k = rng.next_u32();
    // Every tenth trial uses counters and keys with extreme words.
    if (trial % 10 == 0) {
      const std::uint32_t extremes[] = {0u, 1u, 0x7fffffffu, 0x80000000u, 0xffffffffu};
      ctr[rng.below(4)] = extremes[rng.below(5)];
      key[rng.below(2)] = extremes[rng.below(5)];
    }
    const auto expected = random123_philox(ctr, key);
    const auto actual = library_philox(ctr, key);
    const auto ours = oracle::philox4x32_10({ctr[0], ctr[1], ctr[2], ctr[3]}, {key[0], key[1]});
    if (actual != expected && library_mismatches++ == 0) {
      INFO("first library mismatch at trial " << trial << ": ctr " << simdrop_test::hex(ctr[0]) << " "
                                              << simdrop_test::hex(ctr[1]) << " " << simdrop_test::hex(ctr[2])
                                              << " " << simdrop_test::hex(ctr[3]) << " key "
                                              << simdrop_test::hex(key[0]) << " " << simdrop_test::hex(key[1]));
      CHECK(actual == expected);
    }
    if (ours != expected) ++oracle_mismatches;
  }
  CHECK(library_mismatches == 0);
  CHECK(oracle_mismatches == 0);
}

TEST_CASE("the Philox word stream is Random123's Philox laid out 16 counters per register",
          "[philox][stream]") {
  SIMDROP_FOR_EACH_IMPLEMENTATION(isa);
  const std::uint64_t max = UINT64_MAX;
  struct key_case {
    std::uint64_t seed, stream;
  };
  const key_case keys[] = {{0, 0}, {max, max}, {0x0123456789abcdefull, 0xfedcba9876543210ull}, {42, 1ull << 32}};
  // Offsets: the start, a mid-register and mid-group start, 2^40 + 3 and the last words before 2^64.
  const std::size_t n = 300;
  const std::uint64_t offsets[] = {0, 7, 64 + 13, (1ull << 40) + 3, max - n + 1};
  for (const key_case& kc : keys)
    for (std::uint64_t offset : offsets) {
      simdrop_params p = simdrop_params_default(0.5f, kc.seed);
      p.stream = kc.stream;
      p.offset = offset;
      simdrop_test::guarded<std::uint32_t> words(n, 1);
      REQUIRE(simdrop_fill_u32(words.data(), n, &p) == SIMDROP_OK);
      std::vector<std::uint32_t> expected(n);
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t k = offset + i, group = k / 64, r = k % 64, q = 16 * group + r % 16;
        const std::uint32_t ctr[4] = {std::uint32_t(q), std::uint32_t(q >> 32), std::uint32_t(kc.stream),
                                      std::uint32_t(kc.stream >> 32)};
        const std::uint32_t key[2] = {std::uint32_t(kc.seed), std::uint32_t(kc.seed >> 32)};
        expected[i] = random123_philox(ctr, key)[r / 16];
      }
      const std::size_t bad = simdrop_test::first_mismatch(words.data(), expected.data(), n);
      INFO("seed " << simdrop_test::hex(kc.seed) << " stream " << simdrop_test::hex(kc.stream) << " offset "
                   << offset << ": " << simdrop_test::describe_values(words.data(), expected.data(), bad));
      CHECK(bad == simdrop_test::npos);
      CHECK(words.guards_intact());
    }
}
