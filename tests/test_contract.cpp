// The stream contract (docs/stream.md), checked element by element against the
// independent oracle in support/oracle.hpp, once per implementation this CPU
// supports: every word of fill_u32; every value and mask bit of forward_f32,
// backward_f32, backward_mask_f32 and mask; splitting a call anywhere; global
// indices up to 2^64 - 1; dropped elements are +0.0f even for NaN and inf;
// in-place calls. Then every implementation is compared bit for bit with
// "scalar" on random sizes, offsets and misaligned pointers, with guard bytes
// around every output.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "simdrop/simdrop.h"
#include "support/guarded.hpp"
#include "support/implementations.hpp"
#include "support/params.hpp"
#include "support/oracle.hpp"
#include "support/util.hpp"

using simdrop_test::first_float_mismatch;
using simdrop_test::first_mismatch;
using simdrop_test::guarded;
using simdrop_test::npos;

using simdrop_test::all_generator_widths;
using simdrop_test::generator_width;
using simdrop_test::make_params;

namespace {

constexpr std::uint64_t u64_max = std::numeric_limits<std::uint64_t>::max();

std::string describe(const simdrop_params& p, std::size_t n) {
  std::ostringstream s;
  s << (p.generator == SIMDROP_PHILOX4X32_10 ? "philox" : "xoshiro") << " bits " << p.threshold_bits
    << " keep_prob " << p.keep_prob << " (" << simdrop_test::hex(simdrop_test::float_bits(p.keep_prob)) << ") seed "
    << simdrop_test::hex(p.seed) << " stream " << simdrop_test::hex(p.stream) << " offset " << p.offset << " n "
    << n;
  return s.str();
}

// keep_prob values with something to say: the ends, ordinary values, one whose
// T needs the +0.5 rounding, the largest float below 1, T == 1, a subnormal
// (T == 0) and -0.0f (accepted: it is not < 0).
const float contract_keep_probs[] = {0.0f,
                                     1.0f,
                                     0.5f,
                                     0.1f,
                                     0.8f,
                                     0.9f,
                                     0.999f,
                                     0.7f,
                                     0.5f + 0.5f / 65536.0f,           // 2^16 p = 32768.5 exactly: T rounds up
                                     std::nextafter(1.0f, 0.0f),       // 1 - 2^-24
                                     1.0f / 4294967296.0f,             // 2^-32: T == 1 at 32 bits, 0 at 16
                                     1.0f / 65536.0f,                  // 2^-16: T == 1 at 16 bits
                                     std::numeric_limits<float>::denorm_min(),
                                     -0.0f};

// Checks every output of every element-wise call for one parameter set against the oracle.
void check_calls_against_oracle(const simdrop_params& p, std::size_t n, std::size_t misalign) {
  INFO(describe(p, n) << " misalign " << misalign);
  const std::vector<float> x = simdrop_test::test_inputs(n, p.seed ^ p.offset ^ n);
  const std::vector<bool> kept = oracle::decisions(p, n);
  const std::vector<std::uint8_t> expected_mask = oracle::mask_bytes(kept);
  const float s = oracle::scale(p.keep_prob, p.threshold_bits);
  std::vector<float> expected_y(n);
  for (std::size_t i = 0; i < n; ++i) expected_y[i] = oracle::apply(kept[i], x[i], s);
  const std::size_t mask_len = (n + 7) / 8;

  {  // forward with a mask
    guarded<float> in(x, misalign), out(n, misalign);
    guarded<std::uint8_t> mask(mask_len, misalign);
    REQUIRE(simdrop_forward_f32(in.data(), out.data(), n, &p, mask.data()) == SIMDROP_OK);
    const std::size_t bad = first_float_mismatch(out.data(), expected_y.data(), n);
    INFO("forward y: " << simdrop_test::describe_floats(out.data(), expected_y.data(), bad));
    CHECK(bad == npos);
    const std::size_t bad_mask = first_mismatch(mask.data(), expected_mask.data(), mask_len);
    INFO("forward mask: " << simdrop_test::describe_values(mask.data(), expected_mask.data(), bad_mask));
    CHECK(bad_mask == npos);
    CHECK(first_float_mismatch(in.data(), x.data(), n) == npos);  // input untouched
    INFO(in.guard_report() << "; " << out.guard_report() << "; " << mask.guard_report());
    CHECK((in.guards_intact() && out.guards_intact() && mask.guards_intact()));
  }
  {  // forward without a mask
    guarded<float> in(x, misalign), out(n, misalign);
    REQUIRE(simdrop_forward_f32(in.data(), out.data(), n, &p, nullptr) == SIMDROP_OK);
    const std::size_t bad = first_float_mismatch(out.data(), expected_y.data(), n);
    INFO("forward (no mask) y: " << simdrop_test::describe_floats(out.data(), expected_y.data(), bad));
    CHECK(bad == npos);
    CHECK(out.guards_intact());
  }
  {  // backward regenerates the same decisions and scale
    guarded<float> dy(x, misalign), dx(n, (misalign + 1) % 4);
    REQUIRE(simdrop_backward_f32(dy.data(), dx.data(), n, &p) == SIMDROP_OK);
    const std::size_t bad = first_float_mismatch(dx.data(), expected_y.data(), n);
    INFO("backward dx: " << simdrop_test::describe_floats(dx.data(), expected_y.data(), bad));
    CHECK(bad == npos);
    CHECK(dx.guards_intact());
  }
  {  // mask only
    guarded<std::uint8_t> mask(mask_len, (misalign + 2) % 4);
    REQUIRE(simdrop_mask(mask.data(), n, &p) == SIMDROP_OK);
    const std::size_t bad = first_mismatch(mask.data(), expected_mask.data(), mask_len);
    INFO("mask: " << simdrop_test::describe_values(mask.data(), expected_mask.data(), bad));
    CHECK(bad == npos);
    CHECK(mask.guards_intact());
  }
  {  // backward with a stored mask: the oracle's mask, with the unused bits of the last byte set (ignored)
    std::vector<std::uint8_t> stored = expected_mask;
    if (n % 8 != 0) stored.back() = std::uint8_t(stored.back() | (0xFFu << (n % 8)));
    guarded<float> dy(x, misalign), dx(n, misalign);
    guarded<std::uint8_t> mask(stored, misalign);
    REQUIRE(simdrop_backward_mask_f32(dy.data(), mask.data(), dx.data(), n, &p) == SIMDROP_OK);
    const std::size_t bad = first_float_mismatch(dx.data(), expected_y.data(), n);
    INFO("backward_mask dx: " << simdrop_test::describe_floats(dx.data(), expected_y.data(), bad));
    CHECK(bad == npos);
    CHECK(dx.guards_intact());
  }
}

}  // namespace

TEST_CASE("fill_u32 returns every word W[offset + i] of the contract", "[contract][words]") {
  SIMDROP_FOR_EACH_IMPLEMENTATION(isa);
  struct key_case {
    std::uint64_t seed, stream;
  };
  const key_case keys[] = {{0, 0}, {0x9e3779b97f4a7c15ull, 0x0000000100000001ull}, {u64_max, u64_max}};
  const std::size_t sizes[] = {1, 15, 17, 64, 300, 4200};
  // Register, group and tile boundaries, mid-group and mid-tile starts, 2^40 + 3, the Philox counter's top.
  const std::uint64_t offsets[] = {0,          1,    15,   16,   17,   63, 64, 65, 100, 4095, 4096, 4097, 2053,
                                   (1ull << 40) + 3, (1ull << 62) - 64 * 2 + 5};
  for (const generator_width& gw : all_generator_widths) {
    if (gw.threshold_bits != 32) continue;  // words do not depend on threshold_bits
    for (const key_case& kc : keys)
      for (std::size_t n : sizes) {
        std::vector<std::uint64_t> starts(std::begin(offsets), std::end(offsets));
        starts.push_back(u64_max - n + 1);  // the last word is W[2^64 - 1]
        for (std::uint64_t offset : starts) {
          const simdrop_params p = make_params(gw, 0.5f, kc.seed, kc.stream, offset);
          INFO(describe(p, n));
          guarded<std::uint32_t> words(n, offset % 4);
          REQUIRE(simdrop_fill_u32(words.data(), n, &p) == SIMDROP_OK);
          const std::vector<std::uint32_t> expected = oracle::words(p, n);
          const std::size_t bad = first_mismatch(words.data(), expected.data(), n);
          INFO(simdrop_test::describe_values(words.data(), expected.data(), bad));
          CHECK(bad == npos);
          INFO(words.guard_report());
          CHECK(words.guards_intact());
        }
      }
  }
}

TEST_CASE("fill_u32 ignores keep_prob and threshold_bits", "[contract][words]") {
  SIMDROP_FOR_EACH_IMPLEMENTATION(isa);
  for (const generator_width& gw : all_generator_widths) {
    const std::size_t n = 200;
    simdrop_params reference = make_params(gw, 0.5f, 5, 6, 4000);
    reference.threshold_bits = 32;
    std::vector<std::uint32_t> a(n), b(n);
    REQUIRE(simdrop_fill_u32(a.data(), n, &reference) == SIMDROP_OK);
    simdrop_params other = make_params(gw, 0.0f, 5, 6, 4000);
    REQUIRE(simdrop_fill_u32(b.data(), n, &other) == SIMDROP_OK);
    INFO(gw.name);
    CHECK(a == b);
  }
}

TEST_CASE("every value and mask bit of forward, backward, backward_mask and mask equals the oracle",
          "[contract][decisions]") {
  SIMDROP_FOR_EACH_IMPLEMENTATION(isa);
  const std::size_t n = 1000;
  const std::uint64_t offsets[] = {0, 5, 2053, (1ull << 40) + 3, u64_max - n + 1};
  for (const generator_width& gw : all_generator_widths)
    for (float keep_prob : contract_keep_probs)
      for (std::uint64_t offset : offsets) {
        const simdrop_params p = make_params(gw, keep_prob, 0xC0FFEEull + offset, 3, offset);
        check_calls_against_oracle(p, n, std::size_t(offset % 4));
      }
}

TEST_CASE("odd sizes, tile crossings and calls large enough to be split across threads equal the oracle",
          "[contract][decisions]") {
  SIMDROP_FOR_EACH_IMPLEMENTATION(isa);
  struct size_case {
    std::uint64_t offset;
    std::size_t n;
  };
  const std::size_t big = simdrop_test::scaled_count(300001, 140001);  // > 2 x 65536: several threads
  const size_case cases[] = {{0, 1},    {3, 1},     {0, 7},     {1, 15},   {0, 17},  {31, 33},
                             {0, 63},   {1, 65},    {4000, 300}, {8100, 200}, {4093, 9000}, {77, big}};
  for (const generator_width& gw : all_generator_widths)
    for (const size_case& sc : cases) {
      const simdrop_params p = make_params(gw, 0.6f, 0xABCDEF, 11, sc.offset);
      check_calls_against_oracle(p, sc.n, sc.n % 4);
    }
}

TEST_CASE("dropped elements are +0.0f exactly and kept elements are x * s, whatever x is",
          "[contract][values]") {
  SIMDROP_FOR_EACH_IMPLEMENTATION(isa);
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const float specials[] = {nan, -nan, inf, -inf, -0.0f, 0.0f, -1.0f, 3e38f, -3e38f, 1e-45f,
                            simdrop_test::float_from_bits(0xFFC12345u)};
  const std::size_t count = sizeof specials / sizeof specials[0];
  for (const generator_width& gw : all_generator_widths)
    for (float keep_prob : {0.5f, 0.0f, 1.0f, 0.999f}) {
      const std::size_t n = 1024;
      std::vector<float> x(n);
      for (std::size_t i = 0; i < n; ++i) x[i] = specials[(i * 7 + i / 13) % count];
      const simdrop_params p = make_params(gw, keep_prob, 2024, 1, 12345);
      INFO(describe(p, n));
      const std::vector<bool> kept = oracle::decisions(p, n);
      const float s = oracle::scale(keep_prob, gw.threshold_bits);
      std::vector<float> y(n);
      REQUIRE(simdrop_forward_f32(x.data(), y.data(), n, &p, nullptr) == SIMDROP_OK);
      std::size_t wrong_dropped = 0, wrong_kept = 0, kept_count = 0;
      for (std::size_t i = 0; i < n; ++i) {
        if (!kept[i]) {
          wrong_dropped += simdrop_test::float_bits(y[i]) != 0u;  // +0.0f, never -0, NaN or x
        } else {
          ++kept_count;
          const float expected = x[i] * s;
          wrong_kept += simdrop_test::float_bits(y[i]) != simdrop_test::float_bits(expected);
        }
      }
      CHECK(wrong_dropped == 0);
      CHECK(wrong_kept == 0);
      if (keep_prob == 0.0f) CHECK(kept_count == 0);
      if (keep_prob == 1.0f) CHECK(kept_count == n);
    }
}

TEST_CASE("keep_prob 1 keeps everything unscaled and keep_prob 0 drops everything", "[contract][values]") {
  SIMDROP_FOR_EACH_IMPLEMENTATION(isa);
  for (const generator_width& gw : all_generator_widths) {
    INFO(gw.name);
    const std::size_t n = 777;
    const std::vector<float> x = simdrop_test::test_inputs(n, 99);
    std::vector<float> y(n);
    std::vector<std::uint8_t> mask((n + 7) / 8);
    simdrop_params p = make_params(gw, 1.0f, 1, 2, 3);
    REQUIRE(simdrop_forward_f32(x.data(), y.data(), n, &p, mask.data()) == SIMDROP_OK);
    // s == 1 exactly: y is x (a signalling NaN comes back quieted, as x * 1.0f does).
    std::size_t changed = 0;
    for (std::size_t i = 0; i < n; ++i)
      changed += std::isnan(x[i]) ? !std::isnan(y[i]) : simdrop_test::float_bits(y[i]) != simdrop_test::float_bits(x[i]);
    CHECK(changed == 0);
    for (std::size_t i = 0; i < mask.size(); ++i)
      CHECK(mask[i] == (i + 1 < mask.size() || n % 8 == 0 ? 0xFFu : (1u << (n % 8)) - 1u));
    p.keep_prob = 0.0f;
    REQUIRE(simdrop_forward_f32(x.data(), y.data(), n, &p, mask.data()) == SIMDROP_OK);
    std::size_t nonzero = 0;
    for (float v : y) nonzero += simdrop_test::float_bits(v) != 0u;
    CHECK(nonzero == 0);
    std::size_t mask_bits = 0;
    for (std::uint8_t b : mask) mask_bits += b != 0;
    CHECK(mask_bits == 0);
  }
}

TEST_CASE("splitting a call at any point m with offset0 + m for the second part changes nothing",
          "[contract][split]") {
  SIMDROP_FOR_EACH_IMPLEMENTATION(isa);
  const std::uint64_t offsets[] = {0, 3, 4093, (1ull << 40) + 3};

  auto check_split = [](const simdrop_params& p, const std::vector<float>& x, std::size_t m) {
    const std::size_t n = x.size();
    INFO(describe(p, n) << " split at m = " << m);
    // One call.
    std::vector<float> y_whole(n), dx_whole(n);
    std::vector<std::uint8_t> mask_whole((n + 7) / 8), mask_only_whole((n + 7) / 8);
    std::vector<std::uint32_t> words_whole(n);
    REQUIRE(simdrop_forward_f32(x.data(), y_whole.data(), n, &p, mask_whole.data()) == SIMDROP_OK);
    REQUIRE(simdrop_backward_f32(x.data(), dx_whole.data(), n, &p) == SIMDROP_OK);
    REQUIRE(simdrop_mask(mask_only_whole.data(), n, &p) == SIMDROP_OK);
    REQUIRE(simdrop_fill_u32(words_whole.data(), n, &p) == SIMDROP_OK);
    // Two calls: [0, m) at offset0, [m, n) at offset0 + m with its own mask buffer.
    simdrop_params second = p;
    second.offset = p.offset + m;
    std::vector<float> y_split(n), dx_split(n);
    std::vector<std::uint8_t> mask_a((m + 7) / 8), mask_b((n - m + 7) / 8), only_a((m + 7) / 8),
        only_b((n - m + 7) / 8);
    std::vector<std::uint32_t> words_split(n);
    REQUIRE(simdrop_forward_f32(x.data(), y_split.data(), m, &p, mask_a.data()) == SIMDROP_OK);
    REQUIRE(simdrop_forward_f32(x.data() + m, y_split.data() + m, n - m, &second, mask_b.data()) == SIMDROP_OK);
    REQUIRE(simdrop_backward_f32(x.data(), dx_split.data(), m, &p) == SIMDROP_OK);
    REQUIRE(simdrop_backward_f32(x.data() + m, dx_split.data() + m, n - m, &second) == SIMDROP_OK);
    REQUIRE(simdrop_mask(only_a.data(), m, &p) == SIMDROP_OK);
    REQUIRE(simdrop_mask(only_b.data(), n - m, &second) == SIMDROP_OK);
    REQUIRE(simdrop_fill_u32(words_split.data(), m, &p) == SIMDROP_OK);
    REQUIRE(simdrop_fill_u32(words_split.data() + m, n - m, &second) == SIMDROP_OK);

    const std::size_t bad_y = first_float_mismatch(y_split.data(), y_whole.data(), n);
    INFO("forward: " << simdrop_test::describe_floats(y_split.data(), y_whole.data(), bad_y));
    CHECK(bad_y == npos);
    const std::size_t bad_dx = first_float_mismatch(dx_split.data(), dx_whole.data(), n);
    INFO("backward: " << simdrop_test::describe_floats(dx_split.data(), dx_whole.data(), bad_dx));
    CHECK(bad_dx == npos);
    const std::size_t bad_w = first_mismatch(words_split.data(), words_whole.data(), n);
    INFO("fill_u32: " << simdrop_test::describe_values(words_split.data(), words_whole.data(), bad_w));
    CHECK(bad_w == npos);
    std::size_t bad_bits = 0, bad_only_bits = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const bool whole = oracle::mask_bit(mask_whole.data(), i), only = oracle::mask_bit(mask_only_whole.data(), i);
      const bool split = i < m ? oracle::mask_bit(mask_a.data(), i) : oracle::mask_bit(mask_b.data(), i - m);
      const bool split_only = i < m ? oracle::mask_bit(only_a.data(), i) : oracle::mask_bit(only_b.data(), i - m);
      bad_bits += whole != split;
      bad_only_bits += only != split_only;
    }
    CHECK(bad_bits == 0);
    CHECK(bad_only_bits == 0);
  };

  for (const generator_width& gw : all_generator_widths)
    for (std::uint64_t offset0 : offsets) {
      const simdrop_params p = make_params(gw, 0.6f, 0x5151 + offset0, 8, offset0);
      // Every split point of a short call ...
      const std::vector<float> small = simdrop_test::test_inputs(200, 5);
      for (std::size_t m = 0; m <= small.size(); ++m) check_split(p, small, m);
      // ... and chosen ones of a call spanning several Philox groups and xoshiro tiles (both widths).
      const std::vector<float> large = simdrop_test::test_inputs(17000, 6);
      const std::size_t splits[] = {1,    3,    7,    8,    9,    15,   16,   17,   31,    32,   33,   63,
                                    64,   65,   127,  128,  129,  1000, 4095, 4096, 4097,  4101, 8191, 8192,
                                    8193, 8195, 12288, 12289, 16384, 16385, 16999, 17000};
      for (std::size_t m : splits) check_split(p, large, m);
    }
}

TEST_CASE("global indices up to 2^64 - 1 work, and one past fails with SIMDROP_ERR_INDEX_OVERFLOW",
          "[contract][overflow]") {
  SIMDROP_FOR_EACH_IMPLEMENTATION(isa);
  for (const generator_width& gw : all_generator_widths)
    for (std::size_t size : {std::size_t(1), std::size_t(17), std::size_t(100), std::size_t(5000)}) {
      std::size_t n = size;
      // offset = 2^64 - n: the last element has g = 2^64 - 1. Must succeed and equal the oracle.
      const simdrop_params last = make_params(gw, 0.5f, 31337, 4, u64_max - n + 1);
      check_calls_against_oracle(last, n, 1);
      {
        guarded<std::uint32_t> words(n, 2);
        REQUIRE(simdrop_fill_u32(words.data(), n, &last) == SIMDROP_OK);
        const std::vector<std::uint32_t> expected = oracle::words(last, n);
        CHECK(first_mismatch(words.data(), expected.data(), n) == npos);
      }
      // offset = 2^64 - n + 1: g would reach 2^64. Nothing may be written. (For n == 1
      // that offset is 2^64 itself, which does not exist; use n == 2 at 2^64 - 1.)
      simdrop_params past = last;
      past.offset = n == 1 ? u64_max : last.offset + 1;
      n = n == 1 ? 2 : n;
      INFO(describe(past, n));
      const std::vector<float> x = simdrop_test::test_inputs(n, 1);
      std::vector<float> y(n, 42.0f);
      std::vector<std::uint8_t> mask((n + 7) / 8, 0x5A);
      std::vector<std::uint32_t> words(n, 0xFEEDFACEu);
      CHECK(simdrop_forward_f32(x.data(), y.data(), n, &past, mask.data()) == SIMDROP_ERR_INDEX_OVERFLOW);
      CHECK(simdrop_backward_f32(x.data(), y.data(), n, &past) == SIMDROP_ERR_INDEX_OVERFLOW);
      CHECK(simdrop_backward_mask_f32(x.data(), mask.data(), y.data(), n, &past) == SIMDROP_ERR_INDEX_OVERFLOW);
      CHECK(simdrop_mask(mask.data(), n, &past) == SIMDROP_ERR_INDEX_OVERFLOW);
      CHECK(simdrop_fill_u32(words.data(), n, &past) == SIMDROP_ERR_INDEX_OVERFLOW);
      CHECK(std::vector<float>(n, 42.0f) == y);
      CHECK(std::vector<std::uint8_t>((n + 7) / 8, 0x5A) == mask);
      CHECK(std::vector<std::uint32_t>(n, 0xFEEDFACEu) == words);
    }
}

TEST_CASE("in-place calls (x == y, dy == dx) give the out-of-place result", "[contract][in-place]") {
  SIMDROP_FOR_EACH_IMPLEMENTATION(isa);
  for (const generator_width& gw : all_generator_widths)
    for (std::size_t n : {std::size_t(1), std::size_t(33), std::size_t(1000), std::size_t(4500)}) {
      const simdrop_params p = make_params(gw, 0.7f, 8080, 2, 4090);
      INFO(describe(p, n));
      const std::vector<float> x = simdrop_test::test_inputs(n, 17);
      const std::vector<float> expected = oracle::forward(p, x.data(), n);
      const std::vector<std::uint8_t> expected_mask = oracle::mask_bytes(oracle::decisions(p, n));

      guarded<float> forward(x, 1);
      guarded<std::uint8_t> mask((n + 7) / 8, 3);
      REQUIRE(simdrop_forward_f32(forward.data(), forward.data(), n, &p, mask.data()) == SIMDROP_OK);
      CHECK(first_float_mismatch(forward.data(), expected.data(), n) == npos);
      CHECK(first_mismatch(mask.data(), expected_mask.data(), expected_mask.size()) == npos);
      CHECK((forward.guards_intact() && mask.guards_intact()));

      guarded<float> backward(x, 2);
      REQUIRE(simdrop_backward_f32(backward.data(), backward.data(), n, &p) == SIMDROP_OK);
      CHECK(first_float_mismatch(backward.data(), expected.data(), n) == npos);
      CHECK(backward.guards_intact());

      guarded<float> with_mask(x, 3);
      REQUIRE(simdrop_backward_mask_f32(with_mask.data(), mask.data(), with_mask.data(), n, &p) == SIMDROP_OK);
      CHECK(first_float_mismatch(with_mask.data(), expected.data(), n) == npos);
      CHECK(with_mask.guards_intact());
    }
}

TEST_CASE("backward_mask_f32 follows the mask it is given, not the generator", "[contract][backward-mask]") {
  SIMDROP_FOR_EACH_IMPLEMENTATION(isa);
  simdrop_test::test_rng rng(0xB4C4);
  for (const generator_width& gw : all_generator_widths)
    for (std::size_t n : {std::size_t(1), std::size_t(9), std::size_t(64), std::size_t(1001)}) {
      const simdrop_params p = make_params(gw, 0.3f, 1, 1, 1);
      INFO(describe(p, n));
      std::vector<std::uint8_t> bytes((n + 7) / 8);
      for (std::uint8_t& b : bytes) b = std::uint8_t(rng.next_u32());
      const std::vector<float> dy = simdrop_test::test_inputs(n, 23);
      const std::vector<float> expected = oracle::backward_with_mask(p, dy.data(), bytes.data(), n);
      guarded<float> dx(n, n % 4);
      guarded<std::uint8_t> mask(bytes, 1);
      REQUIRE(simdrop_backward_mask_f32(dy.data(), mask.data(), dx.data(), n, &p) == SIMDROP_OK);
      const std::size_t bad = first_float_mismatch(dx.data(), expected.data(), n);
      INFO(simdrop_test::describe_floats(dx.data(), expected.data(), bad));
      CHECK(bad == npos);
      CHECK(dx.guards_intact());
      CHECK(first_mismatch(mask.data(), bytes.data(), bytes.size()) == npos);  // the mask is only read
    }
}

// ---- Every implementation against "scalar", bit for bit --------------------

namespace {

struct random_call {
  simdrop_params p;
  std::size_t n;
  std::size_t misalign_x, misalign_y, misalign_mask;
};

// What one implementation produces for one random call.
struct call_outputs {
  std::vector<float> forward, forward_in_place, backward, backward_mask;
  std::vector<std::uint8_t> forward_mask, mask;
  std::vector<std::uint32_t> words;
  std::string guard_problems;
};

call_outputs run_all_calls(const random_call& c, const std::vector<float>& x, const std::vector<std::uint8_t>& bits) {
  call_outputs out;
  const std::size_t n = c.n, mask_len = (n + 7) / 8;
  auto note = [&](const char* what, bool intact, const std::string& report) {
    if (!intact) out.guard_problems += std::string(what) + ": " + report + "; ";
  };
  {
    guarded<float> in(x, c.misalign_x), y(n, c.misalign_y);
    guarded<std::uint8_t> mask(mask_len, c.misalign_mask);
    y.poison_data();
    REQUIRE(simdrop_forward_f32(in.data(), y.data(), n, &c.p, mask.data()) == SIMDROP_OK);
    out.forward = y.to_vector();
    out.forward_mask = mask.to_vector();
    note("forward x", in.guards_intact() && first_float_mismatch(in.data(), x.data(), n) == npos,
         in.guard_report() + " (or input modified)");
    note("forward y", y.guards_intact(), y.guard_report());
    note("forward mask", mask.guards_intact(), mask.guard_report());
  }
  {
    guarded<float> xy(x, c.misalign_x);
    REQUIRE(simdrop_forward_f32(xy.data(), xy.data(), n, &c.p, nullptr) == SIMDROP_OK);
    out.forward_in_place = xy.to_vector();
    note("in-place x", xy.guards_intact(), xy.guard_report());
  }
  {
    guarded<float> dy(x, c.misalign_y), dx(n, c.misalign_x);
    REQUIRE(simdrop_backward_f32(dy.data(), dx.data(), n, &c.p) == SIMDROP_OK);
    out.backward = dx.to_vector();
    note("backward dx", dx.guards_intact(), dx.guard_report());
  }
  {
    guarded<float> dy(x, c.misalign_x), dx(n, c.misalign_y);
    guarded<std::uint8_t> mask(bits, c.misalign_mask);
    REQUIRE(simdrop_backward_mask_f32(dy.data(), mask.data(), dx.data(), n, &c.p) == SIMDROP_OK);
    out.backward_mask = dx.to_vector();
    note("backward_mask dx", dx.guards_intact(), dx.guard_report());
  }
  {
    guarded<std::uint8_t> mask(mask_len, c.misalign_mask);
    REQUIRE(simdrop_mask(mask.data(), n, &c.p) == SIMDROP_OK);
    out.mask = mask.to_vector();
    note("mask", mask.guards_intact(), mask.guard_report());
  }
  {
    guarded<std::uint32_t> words(n, c.misalign_y);
    REQUIRE(simdrop_fill_u32(words.data(), n, &c.p) == SIMDROP_OK);
    out.words = words.to_vector();
    note("fill_u32", words.guards_intact(), words.guard_report());
  }
  return out;
}

random_call make_random_call(simdrop_test::test_rng& rng, std::size_t n) {
  const generator_width& gw = all_generator_widths[rng.below(4)];
  const float keep_probs[] = {0.5f, 0.1f, 0.9f, 0.999f, 0.0f, 1.0f, 0.37f, 0.5f + 0.5f / 65536.0f};
  float keep_prob = keep_probs[rng.below(8)];
  if (rng.below(3) == 0) keep_prob = rng.uniform(0.0f, 1.0f);
  std::uint64_t offset;
  switch (rng.below(4)) {
    case 0: offset = rng.below(20000); break;                                  // small, any phase
    case 1: offset = (1ull << 40) + rng.below(1u << 20); break;               // around 2^40
    case 2: offset = u64_max - n + 1 - rng.below(5000); break;                // ending at or near 2^64 - 1
    default: offset = rng.next_u64() >> rng.below(64); if (offset > u64_max - n) offset = u64_max - n; break;
  }
  random_call c{make_params(gw, keep_prob, rng.next_u64(), rng.next_u64() >> rng.below(64), offset), n,
                std::size_t(rng.below(4)), std::size_t(rng.below(4)), std::size_t(rng.below(4))};
  // Mostly misaligned pointers (1..3 floats); sometimes aligned.
  if (rng.below(4) != 0) {
    c.misalign_x = 1 + rng.below(3);
    c.misalign_y = 1 + rng.below(3);
  }
  return c;
}

}  // namespace

TEST_CASE("every implementation equals scalar bit for bit on random sizes, offsets and misaligned pointers",
          "[contract][implementations]") {
  const std::string isa =
      GENERATE(Catch::Generators::from_range(simdrop_test::supported_implementations()));
  INFO("implementation: " << isa << " vs scalar");
  simdrop_test::test_rng rng(0x1A2B3C4D5E6Full);
  std::vector<std::size_t> sizes = {0, 1, 15, 17, 63, 65, 4095, 4097, 8191, 8193, 70000};
  const std::size_t random_trials = simdrop_test::scaled_count(120, 12);
  for (std::size_t i = 0; i < random_trials; ++i) sizes.push_back(std::size_t(rng.below(70001)));
  sizes.push_back(simdrop_test::scaled_count(200003, 140003));  // split across threads
  for (std::size_t trial = 0; trial < sizes.size(); ++trial) {
    const random_call c = make_random_call(rng, sizes[trial]);
    INFO("trial " << trial << ": " << describe(c.p, c.n) << " misalign x/y/mask " << c.misalign_x << "/"
                  << c.misalign_y << "/" << c.misalign_mask);
    const std::vector<float> x = simdrop_test::test_inputs(c.n, rng.next_u64());
    std::vector<std::uint8_t> bits((c.n + 7) / 8);
    for (std::uint8_t& b : bits) b = std::uint8_t(rng.next_u32());

    call_outputs reference, actual;
    simdrop_test::with_isa("scalar", [&] { reference = run_all_calls(c, x, bits); });
    simdrop_test::with_isa(isa, [&] { actual = run_all_calls(c, x, bits); });

    INFO("guards of " << isa << ": " << (actual.guard_problems.empty() ? "intact" : actual.guard_problems));
    CHECK(actual.guard_problems.empty());
    CHECK(reference.guard_problems.empty());
    const std::size_t n = c.n;
    const std::size_t f = first_float_mismatch(actual.forward.data(), reference.forward.data(), n);
    INFO("forward: " << simdrop_test::describe_floats(actual.forward.data(), reference.forward.data(), f));
    CHECK(f == npos);
    const std::size_t fi =
        first_float_mismatch(actual.forward_in_place.data(), reference.forward_in_place.data(), n);
    INFO("in place: " << simdrop_test::describe_floats(actual.forward_in_place.data(),
                                                       reference.forward_in_place.data(), fi));
    CHECK(fi == npos);
    CHECK(first_float_mismatch(actual.forward_in_place.data(), reference.forward.data(), n) == npos);
    const std::size_t b = first_float_mismatch(actual.backward.data(), reference.backward.data(), n);
    INFO("backward: " << simdrop_test::describe_floats(actual.backward.data(), reference.backward.data(), b));
    CHECK(b == npos);
    const std::size_t bm = first_float_mismatch(actual.backward_mask.data(), reference.backward_mask.data(), n);
    INFO("backward_mask: " << simdrop_test::describe_floats(actual.backward_mask.data(),
                                                            reference.backward_mask.data(), bm));
    CHECK(bm == npos);
    CHECK(actual.forward_mask == reference.forward_mask);
    CHECK(actual.mask == reference.mask);
    CHECK(actual.mask == actual.forward_mask);
    const std::size_t w = first_mismatch(actual.words.data(), reference.words.data(), n);
    INFO("fill_u32: " << simdrop_test::describe_values(actual.words.data(), reference.words.data(), w));
    CHECK(w == npos);
  }
}

// Output layouts of the streaming tests: offset 0 with an aligned output and
// offset 37 with the output 5 elements past a 64-byte boundary (so element 11,
// global 48, is aligned) take the streaming stores; an output misaligned by
// one element takes the normal ones, as f32_streaming_layouts's outputs 16
// bytes past a boundary (numpy's alignment), at offset 3, and at both (the
// vectors 13 floats past a 64-byte boundary).
struct streaming_layout {
  std::uint64_t offset;
  std::size_t misalign;
};
constexpr streaming_layout streaming_layouts[] = {{0, 0}, {37, 5}, {0, 1}};
constexpr streaming_layout f32_streaming_layouts[] = {{0, 0}, {37, 5}, {0, 1}, {0, 4}, {3, 0}, {29, 10}};

TEST_CASE("calls above the streaming-store size equal scalar, with aligned and unaligned outputs",
          "[contract][implementations][streaming]") {
  // From 2^22 elements per call the x86 kernels write y with non-temporal
  // stores when y is 64-byte aligned at the first whole 16-element register
  // (src/core/implementation.hpp); streaming_layouts has both cases.
  const std::string isa =
      GENERATE(Catch::Generators::from_range(simdrop_test::supported_implementations()));
  INFO("implementation: " << isa << " vs scalar");
  const std::size_t n = (std::size_t(1) << 22) + 4099;
  const std::vector<float> x = simdrop_test::test_inputs(n, 0x5EED5EEDull);
  const std::size_t widths = simdrop_test::reduced_mode() ? 1 : std::size(all_generator_widths);
  for (std::size_t w = 0; w < widths; ++w) {
    const generator_width& gw = all_generator_widths[w];
    for (const streaming_layout& l : f32_streaming_layouts) {
      const simdrop_params p = make_params(gw, 0.75f, 0xC0FFEEull + w, 7, l.offset);
      INFO(gw.name << ", offset " << l.offset << ", y misaligned by " << l.misalign << " floats");
      guarded<float> expected(n, l.misalign), actual(n, l.misalign);
      std::vector<std::uint8_t> expected_mask((n + 7) / 8), actual_mask((n + 7) / 8);
      simdrop_test::with_isa("scalar", [&] {
        REQUIRE(simdrop_forward_f32(x.data(), expected.data(), n, &p, expected_mask.data()) == SIMDROP_OK);
      });
      simdrop_test::with_isa(isa, [&] {
        REQUIRE(simdrop_forward_f32(x.data(), actual.data(), n, &p, actual_mask.data()) == SIMDROP_OK);
      });
      const std::size_t f = first_float_mismatch(actual.data(), expected.data(), n);
      INFO("forward: " << simdrop_test::describe_floats(actual.data(), expected.data(), f));
      CHECK(f == npos);
      CHECK(actual_mask == expected_mask);
      INFO(actual.guard_report());
      CHECK(actual.guards_intact());

      // Backward from that stored mask streams dx when dx is aligned at the
      // start of its range (misaligned by 0 here; the others take normal stores).
      guarded<float> expected_dx(n, l.misalign), actual_dx(n, l.misalign);
      simdrop_test::with_isa("scalar", [&] {
        REQUIRE(simdrop_backward_mask_f32(x.data(), expected_mask.data(), expected_dx.data(), n, &p) == SIMDROP_OK);
      });
      simdrop_test::with_isa(isa, [&] {
        REQUIRE(simdrop_backward_mask_f32(x.data(), expected_mask.data(), actual_dx.data(), n, &p) == SIMDROP_OK);
      });
      const std::size_t b = first_float_mismatch(actual_dx.data(), expected_dx.data(), n);
      INFO("backward_mask: " << simdrop_test::describe_floats(actual_dx.data(), expected_dx.data(), b));
      CHECK(b == npos);
      INFO(actual_dx.guard_report());
      CHECK(actual_dx.guards_intact());
    }
  }

  // forward_f64 moves 16 bytes per element, so it streams from 2^21 elements,
  // with the same layouts: element 11 of offset 37 starts a register, and 5
  // doubles of misalignment put it on a 64-byte boundary too.
  const std::size_t doubles = (std::size_t(1) << 21) + 4099;
  const std::vector<double> xd(x.begin(), x.begin() + std::ptrdiff_t(doubles));
  const auto bits_of = [](const double* v, std::size_t count) {
    std::vector<std::uint64_t> bits(count);
    std::memcpy(bits.data(), v, count * sizeof(double));
    return bits;
  };
  for (std::size_t w = 0; w < widths; ++w) {
    const generator_width& gw = all_generator_widths[w];
    for (const streaming_layout& l : streaming_layouts) {
      const simdrop_params p = make_params(gw, 0.75f, 0xD0DAull + w, 0, l.offset);
      INFO("f64, " << gw.name << ", offset " << l.offset << ", y misaligned by " << l.misalign << " doubles");
      guarded<double> expected(doubles, l.misalign), actual(doubles, l.misalign);
      simdrop_test::with_isa("scalar", [&] {
        REQUIRE(simdrop_forward_f64(xd.data(), expected.data(), doubles, &p, nullptr) == SIMDROP_OK);
      });
      simdrop_test::with_isa(isa, [&] {
        REQUIRE(simdrop_forward_f64(xd.data(), actual.data(), doubles, &p, nullptr) == SIMDROP_OK);
      });
      const std::vector<std::uint64_t> a = bits_of(actual.data(), doubles), e = bits_of(expected.data(), doubles);
      const std::size_t f = first_mismatch(a.data(), e.data(), doubles);
      INFO("forward_f64: " << simdrop_test::describe_values(a.data(), e.data(), f));
      CHECK(f == npos);
      INFO(actual.guard_report());
      CHECK(actual.guards_intact());
    }
  }

  // fill_u32 moves 4 bytes per word against forward's 8 per element, so it
  // streams from 2^23 words (src/kernels/dropout_kernels.inc). The odd offset
  // and size give partial registers at both ends.
  const std::size_t words = (std::size_t(1) << 23) + 4099;
  const std::size_t generators = simdrop_test::reduced_mode() ? 1 : 2;
  for (std::size_t g = 0; g < generators; ++g) {
    for (const streaming_layout& l : streaming_layouts) {
      simdrop_params p = simdrop_params_default(0.5f, 0xF111ull + l.offset);
      p.generator = g == 0 ? SIMDROP_PHILOX4X32_10 : SIMDROP_XOSHIRO128PP;
      p.stream = 3;
      p.offset = l.offset;
      INFO("generator " << g << ", offset " << l.offset << ", words misaligned by " << l.misalign);
      guarded<std::uint32_t> expected(words, l.misalign), actual(words, l.misalign);
      simdrop_test::with_isa("scalar", [&] { REQUIRE(simdrop_fill_u32(expected.data(), words, &p) == SIMDROP_OK); });
      simdrop_test::with_isa(isa, [&] { REQUIRE(simdrop_fill_u32(actual.data(), words, &p) == SIMDROP_OK); });
      const std::size_t w = first_mismatch(actual.data(), expected.data(), words);
      INFO("fill_u32: " << simdrop_test::describe_values(actual.data(), expected.data(), w));
      CHECK(w == npos);
      INFO(actual.guard_report());
      CHECK(actual.guards_intact());
    }
  }
}
