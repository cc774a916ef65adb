// Statistical checks of the masks and words, for both generators and both
// threshold widths, with fixed seeds (so a run is reproducible: a given build
// either always passes or always fails).
//
// Every bound is 6 standard deviations (or the chi-square equivalent, 36 for
// one degree of freedom). For a standard normal, P(|Z| > 6) = 1.97e-9, so a
// correct generator with a seed picked at random would fail one such check
// with probability about 2e-9; each test case below states the union bound over
// its checks. The counts are large (2^20 elements per check) so that 6 sigma
// is still tight: a keep rate off by 0.3 % at p = 0.5, a per-bit bias of
// 0.3 %, or a correlation of 0.6 % between two masks already fails.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include "simdrop/simdrop.h"
#include "support/params.hpp"
#include "support/util.hpp"

using simdrop_test::all_generator_widths;
using simdrop_test::generator_width;
using simdrop_test::make_params;

namespace {

constexpr double sigmas = 6.0;               // the bound, in standard deviations
constexpr double chi_square_bound = 36.0;    // = sigmas^2: chi-square(1 df) > 36 has probability 1.97e-9
// 2^20 elements per check natively; 2^18 under an emulator (the bounds are
// exact for any N, only their relative width doubles).
const std::size_t sample = simdrop_test::scaled_count(std::size_t(1) << 20, std::size_t(1) << 18);

// The decisions of n elements as 0/1 bytes.
std::vector<std::uint8_t> decisions(const simdrop_params& p, std::size_t n) {
  std::vector<std::uint8_t> mask((n + 7) / 8);
  REQUIRE(simdrop_mask(mask.data(), n, &p) == SIMDROP_OK);
  std::vector<std::uint8_t> kept(n);
  for (std::size_t i = 0; i < n; ++i) kept[i] = (mask[i / 8] >> (i % 8)) & 1u;
  return kept;
}

// The quantised keep probability the contract actually uses: T / 2^bits.
double effective_keep_prob(float keep_prob, std::uint32_t bits) {
  const double scale = std::ldexp(1.0, int(bits));
  return std::floor(double(keep_prob) * scale + 0.5) / scale;
}

// Pearson's chi-square of a 2x2 contingency table (1 degree of freedom).
double chi_square_2x2(double a, double b, double c, double d) {
  const double n = a + b + c + d;
  const double num = a * d - b * c;
  const double den = (a + b) * (c + d) * (a + c) * (b + d);
  return den == 0 ? 0.0 : n * num * num / den;
}

}  // namespace

TEST_CASE("keep rate is inside a 6-sigma binomial bound (false failure < 1e-6 per test case)",
          "[statistics][keep-rate]") {
  // 6 generator/width pairs x 5 keep_probs = 30 checks. Each: |K - N q| <= 6 sqrt(N q (1 - q)),
  // N = 2^20, q = T / 2^bits. For q <= 0.9 the binomial is close to normal (N q (1 - q) >= 9.4e4):
  // ~2e-9 per check. At q = 0.999 the number of drops (~1049, sd 32) is skewed; the
  // Chernoff bound on its two 6-sigma tails gives 3.4e-8 + 4e-9 < 4e-8. With 8-bit
  // thresholds 0.999 rounds to T = 256, q = 1: every element kept, exactly. Union over
  // the 30 checks: < 4 x 4e-8 + 24 x 2e-9 < 2.1e-7 (stated as < 1e-6).
  INFO("bound: 6 sigma; false-failure probability < 1e-6 for all 30 checks together");
  for (const generator_width& gw : all_generator_widths)
    for (float keep_prob : {0.1f, 0.5f, 0.8f, 0.9f, 0.999f}) {
      const simdrop_params p = make_params(gw, keep_prob, 0x5EED0000 + std::uint64_t(keep_prob * 1000), 17, 12345);
      const std::vector<std::uint8_t> kept = decisions(p, sample);
      double count = 0;
      for (std::uint8_t k : kept) count += k;
      const double q = effective_keep_prob(keep_prob, gw.threshold_bits);
      const double mean = double(sample) * q, sd = std::sqrt(double(sample) * q * (1 - q));
      INFO(gw.name << " keep_prob " << keep_prob << ": kept " << count << ", expected " << mean << " +- " << sd
                   << " (z = " << (count - mean) / sd << ")");
      CHECK(std::fabs(count - mean) <= sigmas * sd);
    }
}

TEST_CASE("mean of y equals mean of x within 6 standard errors (false failure < 1e-7 per test case)",
          "[statistics][mean]") {
  // y_i = x_i * s with probability q = T / 2^bits, else 0, with s = 1/q up to one
  // float rounding (relative 2^-24, ~0.001 standard errors here). So
  // E[sum y] = sum x and Var[sum y] = sum x_i^2 (1 - q) / q. Bound: |sum y - sum x|
  // <= 6 sqrt(Var) + the rounding term. 6 x 5 = 30 checks: < 30 x 2e-9 = 6e-8 by the
  // central limit theorem (the x_i are bounded, N = 2^20).
  INFO("bound: 6 standard errors; false-failure probability < 1e-7 for all 30 checks together");
  simdrop_test::test_rng rng(0xFACADE);
  std::vector<float> x(sample);
  for (float& v : x) v = rng.uniform(0.5f, 2.0f);  // positive, so a biased mask moves the mean
  double sum_x = 0, sum_x2 = 0;
  for (float v : x) {
    sum_x += v;
    sum_x2 += double(v) * v;
  }
  std::vector<float> y(sample);
  for (const generator_width& gw : all_generator_widths)
    for (float keep_prob : {0.1f, 0.5f, 0.8f, 0.9f, 0.999f}) {
      const simdrop_params p = make_params(gw, keep_prob, 0xAEA0 + std::uint64_t(keep_prob * 1000), 3, 99);
      REQUIRE(simdrop_forward_f32(x.data(), y.data(), sample, &p, nullptr) == SIMDROP_OK);
      double sum_y = 0;
      for (float v : y) sum_y += v;
      const double q = effective_keep_prob(keep_prob, gw.threshold_bits);
      const double standard_error = std::sqrt(sum_x2 * (1 - q) / q);
      const double rounding = std::ldexp(sum_x, -23);  // s differs from 1/q by at most 2^-24 relative
      INFO(gw.name << " keep_prob " << keep_prob << ": sum y " << sum_y << ", sum x " << sum_x << ", se "
                   << standard_error << " (z = " << (sum_y - sum_x) / standard_error << ")");
      CHECK(std::fabs(sum_y - sum_x) <= sigmas * standard_error + rounding);
    }
}

TEST_CASE("different seeds and different streams give uncorrelated masks (false failure < 2e-7 per test case)",
          "[statistics][correlation]") {
  // For two independent masks with keep probability q, the sample correlation r
  // of the 0/1 decisions satisfies r sqrt(N) ~ N(0, 1). Bound |r| <= 6 / sqrt(N)
  // = 0.0059 at N = 2^20. 6 x 6 pairs x 2 keep_probs = 72 checks: < 72 x 2e-9 = 1.5e-7.
  INFO("bound: |r| <= 6/sqrt(N) = 0.0059; false-failure probability < 2e-7 for all 72 checks together");
  struct pair_case {
    const char* what;
    std::uint64_t seed_a, stream_a, seed_b, stream_b;
  };
  const pair_case pairs[] = {
      {"adjacent seeds", 1, 0, 2, 0},
      {"seeds differing in the high word", 7, 0, 7 + (1ull << 32), 0},
      {"adjacent streams", 5, 0, 5, 1},
      {"streams differing in the high word", 5, 3, 5, 3 + (1ull << 32)},
      {"seed and stream swapped", 1, 2, 2, 1},
      {"seed 0 stream 0 vs all ones", 0, 0, ~0ull, ~0ull},
  };
  for (const generator_width& gw : all_generator_widths)
    for (const pair_case& pc : pairs)
      for (float keep_prob : {0.5f, 0.1f}) {
        const std::vector<std::uint8_t> a = decisions(make_params(gw, keep_prob, pc.seed_a, pc.stream_a, 0), sample);
        const std::vector<std::uint8_t> b = decisions(make_params(gw, keep_prob, pc.seed_b, pc.stream_b, 0), sample);
        double sa = 0, sb = 0, sab = 0;
        for (std::size_t i = 0; i < sample; ++i) {
          sa += a[i];
          sb += b[i];
          sab += a[i] & b[i];
        }
        const double n = double(sample), ma = sa / n, mb = sb / n;
        const double cov = sab / n - ma * mb;
        const double r = cov / std::sqrt(ma * (1 - ma) * mb * (1 - mb));
        INFO(gw.name << " " << pc.what << " keep_prob " << keep_prob << ": r = " << r << " (r sqrt(N) = "
                     << r * std::sqrt(n) << ")");
        CHECK(std::fabs(r) * std::sqrt(n) <= sigmas);
      }
}

TEST_CASE("neighbouring elements are independent: 2x2 chi-square (false failure < 1e-7 per test case)",
          "[statistics][independence]") {
  // Disjoint pairs (i, i + lag), each element in one pair, N / 2 pairs per check.
  // Lags: 1 (neighbouring lanes), 16 (for 16- and 8-bit thresholds: the halves
  // or neighbouring bytes of the same word), 64 (the next Philox group / xoshiro
  // step), 4096. Independence gives chi-square(1 df); the bound 36 has
  // probability 1.97e-9. 6 x 4 lags x 2 keep_probs = 48 checks: < 48 x 2e-9 = 9.6e-8.
  INFO("bound: chi-square(1 df) <= 36; false-failure probability < 1e-7 for all 48 checks together");
  for (const generator_width& gw : all_generator_widths)
    for (float keep_prob : {0.5f, 0.2f}) {
      const std::vector<std::uint8_t> kept = decisions(make_params(gw, keep_prob, 0xC4C4, 9, 0), sample);
      for (std::size_t lag : {std::size_t(1), std::size_t(16), std::size_t(64), std::size_t(4096)}) {
        double table[2][2] = {{0, 0}, {0, 0}};
        for (std::size_t i = 0; i + lag < sample; ++i) {
          if ((i / lag) % 2 != 0) continue;  // i is the first of its pair
          table[kept[i]][kept[i + lag]] += 1;
        }
        const double chi2 = chi_square_2x2(table[0][0], table[0][1], table[1][0], table[1][1]);
        INFO(gw.name << " keep_prob " << keep_prob << " lag " << lag << ": table " << table[0][0] << " "
                     << table[0][1] << " " << table[1][0] << " " << table[1][1] << ", chi-square " << chi2);
        CHECK(chi2 <= chi_square_bound);
      }
    }
}

TEST_CASE("every bit of the raw words is balanced (false failure < 1e-6 per test case)", "[statistics][bits]") {
  // For each of the 32 bit positions, the count of ones among N = 2^20 words is
  // Binomial(N, 1/2): bound |c - N/2| <= 6 sqrt(N)/2 = 3072 (0.29 %). Words do not
  // depend on threshold_bits, but the 16- and 8-bit decisions use the halves and
  // bytes separately, so all 32 positions matter for every width. 2 generators x 3 ranges
  // x 32 bits = 192 checks: < 192 x 2e-9 = 4e-7.
  INFO("bound: 6 sigma per bit; false-failure probability < 1e-6 for all 192 checks together");
  struct range_case {
    std::uint64_t seed, stream, offset;
  };
  const range_case ranges[] = {{1, 0, 0}, {0xDEADBEEF, 0xFFFFFFFF, (1ull << 40) + 3}, {0, ~0ull, ~0ull - sample}};
  std::vector<std::uint32_t> words(sample);
  for (simdrop_generator generator : {SIMDROP_PHILOX4X32_10, SIMDROP_XOSHIRO128PP})
    for (const range_case& rc : ranges) {
      simdrop_params p = simdrop_params_default(0.5f, rc.seed);
      p.generator = generator;
      p.stream = rc.stream;
      p.offset = rc.offset;
      REQUIRE(simdrop_fill_u32(words.data(), sample, &p) == SIMDROP_OK);
      double ones[32] = {};
      for (std::uint32_t w : words)
        for (int bit = 0; bit < 32; ++bit) ones[bit] += (w >> bit) & 1u;
      const double mean = sample / 2.0, sd = std::sqrt(double(sample)) / 2.0;
      for (int bit = 0; bit < 32; ++bit) {
        INFO((generator == SIMDROP_PHILOX4X32_10 ? "philox" : "xoshiro")
             << " seed " << rc.seed << " offset " << rc.offset << " bit " << bit << ": " << ones[bit]
             << " ones, expected " << mean << " +- " << sd);
        CHECK(std::fabs(ones[bit] - mean) <= sigmas * sd);
      }
    }
}
