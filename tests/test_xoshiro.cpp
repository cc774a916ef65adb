// xoshiro128++: the library's word stream (SIMDROP_XOSHIRO128PP) against a
// separate, sequential, textbook xoshiro128++ written here, each of the 16
// lanes of a tile seeded from Random123's own Philox at counter
// 2^63 + 16 t + lane, then interleaved by hand. The textbook generator is
// itself pinned to the reference implementation's published outputs.
#include <catch2/catch.hpp>

#include <Random123/philox.h>

#include <cstdint>
#include <vector>

#include "simdrop/simdrop.h"
#include "support/guarded.hpp"
#include "support/implementations.hpp"
#include "support/oracle.hpp"
#include "support/util.hpp"

namespace {

// Vigna's xoshiro128plusplus.c, as printed, in a struct.
struct textbook_xoshiro128pp {
  std::uint32_t s[4];

  static inline std::uint32_t rotl(const std::uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

  std::uint32_t next(void) {
    const std::uint32_t result = rotl(s[0] + s[3], 7) + s[0];
    const std::uint32_t t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }
};

constexpr std::uint64_t tile_words = 4096;

// The 4096 words of tile t, built lane by lane: lane l runs 256 steps
// sequentially and its outputs land at positions step * 16 + l.
std::vector<std::uint32_t> textbook_tile(std::uint64_t seed, std::uint64_t stream, std::uint64_t t) {
  std::vector<std::uint32_t> tile(tile_words);
  r123::Philox4x32_R<10> philox;
  for (std::uint32_t lane = 0; lane < 16; ++lane) {
    const std::uint64_t m = (std::uint64_t(1) << 63) + 16 * t + lane;
    const r123::Philox4x32_R<10>::ctr_type ctr = {
        {std::uint32_t(m), std::uint32_t(m >> 32), std::uint32_t(stream), std::uint32_t(stream >> 32)}};
    const r123::Philox4x32_R<10>::key_type key = {{std::uint32_t(seed), std::uint32_t(seed >> 32)}};
    const r123::Philox4x32_R<10>::ctr_type block = philox(ctr, key);
    textbook_xoshiro128pp g{{block[0], block[1], block[2], block[3]}};
    if ((g.s[0] | g.s[1] | g.s[2] | g.s[3]) == 0) g.s[0] = 1;
    for (std::uint32_t step = 0; step < 256; ++step) tile[step * 16 + lane] = g.next();
  }
  return tile;
}

// Words W[offset .. offset + n) from whole textbook tiles.
std::vector<std::uint32_t> textbook_words(std::uint64_t seed, std::uint64_t stream, std::uint64_t offset,
                                          std::size_t n) {
  std::vector<std::uint32_t> out;
  out.reserve(n);
  std::uint64_t t = offset / tile_words;
  std::vector<std::uint32_t> tile = textbook_tile(seed, stream, t);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t k = offset + i;
    if (k / tile_words != t) {
      t = k / tile_words;
      tile = textbook_tile(seed, stream, t);
    }
    out.push_back(tile[k % tile_words]);
  }
  return out;
}

}  // namespace

TEST_CASE("the textbook xoshiro128++ reproduces the reference implementation's outputs", "[xoshiro][kat]") {
  // xoshiro128plusplus.c from state {1, 2, 3, 4}: the first ten outputs, as
  // published with rand_xoshiro's Xoshiro128PlusPlus reference test.
  const std::uint32_t expected[10] = {641u,        1573767u,    3222811527u, 3517856514u, 836907274u,
                                      4247214768u, 3867114732u, 1355841295u, 495546011u,  621204420u};
  textbook_xoshiro128pp textbook{{1, 2, 3, 4}};
  oracle::xoshiro128pp ours{{1, 2, 3, 4}};
  for (int i = 0; i < 10; ++i) {
    INFO("output " << i);
    CHECK(textbook.next() == expected[i]);
    CHECK(ours.next() == expected[i]);
  }
}

TEST_CASE("xoshiro seeding: an all-zero Philox block becomes the state {1, 0, 0, 0}", "[xoshiro][seeding]") {
  // No seed, stream and counter are known whose Philox block is all zero (that
  // would take ~2^128 tries), so the rule is checked on the oracle's seeding
  // function directly; the library's seeding is checked against the oracle on
  // real blocks in the other xoshiro tests.
  const oracle::xoshiro128pp zero = oracle::xoshiro_state_from_block({0, 0, 0, 0});
  CHECK(zero.s[0] == 1u);
  CHECK(zero.s[1] == 0u);
  CHECK(zero.s[2] == 0u);
  CHECK(zero.s[3] == 0u);
  // From {1, 0, 0, 0} the first output is rotl(1 + 0, 7) + 1 = 129, and the
  // state does not stay at zero.
  oracle::xoshiro128pp g = zero;
  CHECK(g.next() == 129u);
  CHECK((g.s[0] | g.s[1] | g.s[2] | g.s[3]) != 0u);
  // Any nonzero block is used as it is, including one with only s0 == 0.
  const oracle::xoshiro128pp other = oracle::xoshiro_state_from_block({0, 0, 0, 7});
  CHECK(other.s[0] == 0u);
  CHECK(other.s[3] == 7u);
}

TEST_CASE("the oracle's xoshiro word stream equals the textbook lanes", "[xoshiro][oracle]") {
  const std::size_t n = 600;
  const std::uint64_t offset = 4096 * 3 + 3700;  // crosses a tile boundary
  simdrop_params p = simdrop_params_default(0.5f, 0x1234);
  p.generator = SIMDROP_XOSHIRO128PP;
  p.stream = 99;
  p.offset = offset;
  const std::vector<std::uint32_t> expected = textbook_words(p.seed, p.stream, offset, n);
  const std::vector<std::uint32_t> ours = oracle::words(p, n);
  CHECK(ours == expected);
}

TEST_CASE("fill_u32 for xoshiro128++ equals 16 sequential textbook lanes per tile", "[xoshiro][stream]") {
  SIMDROP_FOR_EACH_IMPLEMENTATION(isa);
  const std::uint64_t max = UINT64_MAX;
  struct key_case {
    std::uint64_t seed, stream;
  };
  const key_case keys[] = {{0, 0}, {max, max}, {0x0123456789abcdefull, 7}, {3, 0xffffffff00000000ull}};
  struct range_case {
    std::uint64_t offset;
    std::size_t n;
  };
  const std::uint64_t last_tile = max / tile_words;  // 2^52 - 1: the tile holding W[2^64 - 1]
  const range_case ranges[] = {
      {0, 4096},                              // one whole tile
      {4096 * 7, 8192},                       // two whole tiles
      {1234, 5000},                           // starts mid-tile (mid-register) and crosses a boundary
      {4096 + 16 * 255 + 5, 40},              // the last step of a tile, then the next tile
      {(1ull << 40) + 3, 4100},               // 2^40 + 3
      {last_tile * tile_words - 100, 4196},   // the last tile, to W[2^64 - 1]
  };
  for (const key_case& kc : keys)
    for (const range_case& rc : ranges) {
      simdrop_params p = simdrop_params_default(0.5f, kc.seed);
      p.generator = SIMDROP_XOSHIRO128PP;
      p.stream = kc.stream;
      p.offset = rc.offset;
      simdrop_test::guarded<std::uint32_t> words(rc.n, 3);
      REQUIRE(simdrop_fill_u32(words.data(), rc.n, &p) == SIMDROP_OK);
      const std::vector<std::uint32_t> expected = textbook_words(kc.seed, kc.stream, rc.offset, rc.n);
      const std::size_t bad = simdrop_test::first_mismatch(words.data(), expected.data(), rc.n);
      INFO("seed " << simdrop_test::hex(kc.seed) << " stream " << simdrop_test::hex(kc.stream) << " offset "
                   << rc.offset << " n " << rc.n << ": "
                   << simdrop_test::describe_values(words.data(), expected.data(), bad));
      CHECK(bad == simdrop_test::npos);
      CHECK(words.guards_intact());
    }
}

TEST_CASE("xoshiro and Philox word streams never share words for the same seed and stream",
          "[xoshiro][stream]") {
  // The xoshiro seeding counters have the top bit set; the Philox stream's
  // counters stay below 2^62. The first xoshiro lane state must therefore differ
  // from every Philox block of a call that starts at the same offset.
  simdrop_params philox = simdrop_params_default(0.5f, 77);
  simdrop_params xoshiro = philox;
  xoshiro.generator = SIMDROP_XOSHIRO128PP;
  const std::size_t n = 4096;
  std::vector<std::uint32_t> a(n), b(n);
  REQUIRE(simdrop_fill_u32(a.data(), n, &philox) == SIMDROP_OK);
  REQUIRE(simdrop_fill_u32(b.data(), n, &xoshiro) == SIMDROP_OK);
  std::size_t equal = 0;
  for (std::size_t i = 0; i < n; ++i) equal += a[i] == b[i];
  // Two independent streams agree on a word with probability 2^-32: with 4096
  // words, P(any equal word) < 1e-6. More than one equal word means shared words.
  CHECK(equal <= 1);
}
