// The runtime-facing calls of issue 5: 2-D strided views, channel dropout,
// the fused bias-dropout-add, and the f64 / bf16 / f16 element types.
//
// Each call is checked on every implementation this CPU runs and at 1, 2 and
// 3 threads against
//  - an independent reference made of simdrop_forward_f32 / simdrop_mask calls
//    at the same global indices (themselves checked against the oracle
//    elsewhere), with the values computed here;
//  - the oracle (support/oracle.hpp) on small calls;
//  - the scalar implementation's output for the same call, bit for bit.
// bf16 and f16 rounding is checked on all 65,536 inputs of each type against
// a reference that rounds with double arithmetic (no bit tricks shared with
// the library), kept and dropped. Every new error returns before writing.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "../src/core/convert.hpp"  // the portable conversions, header-only, checked directly below
#include "simdrop/simdrop.h"
#include "support/guarded.hpp"
#include "support/params.hpp"
#include "support/implementations.hpp"
#include "support/oracle.hpp"
#include "support/util.hpp"

namespace {

using simdrop_test::test_rng;
using u8 = std::uint8_t;
using u16 = std::uint16_t;
using u32 = std::uint32_t;
using u64 = std::uint64_t;

using simdrop_test::make_params;

// A random parameter set: both generators and widths, keep_prob including 0
// and 1, offsets anywhere (mid-group, mid-tile, high).
simdrop_params random_params(test_rng& rng) {
  static const float keeps[] = {0.0f, 0.1f, 0.5f, 0.8f, 0.9f, 1.0f};
  const simdrop_generator generator = rng.below(2) ? SIMDROP_XOSHIRO128PP : SIMDROP_PHILOX4X32_10;
  const u32 bits = 8u << rng.below(3);  // 8, 16 or 32
  u64 offset = rng.below(3) == 0 ? rng.below(64) : rng.below(u64(1) << 20);
  if (rng.below(8) == 0) offset += u64(1) << 50;
  return make_params(keeps[rng.below(6)], rng.next_u64(), rng.next_u64() % 1000, offset, generator, bits);
}

// Decisions of global indices offset .. offset + n - 1, from simdrop_mask.
std::vector<bool> library_decisions(simdrop_params p, u64 offset, std::size_t n) {
  p.offset = offset;
  std::vector<u8> mask((n + 7) / 8);
  REQUIRE(simdrop_mask(mask.data(), n, &p) == SIMDROP_OK);
  std::vector<bool> keep(n);
  for (std::size_t i = 0; i < n; ++i) keep[i] = (mask[i / 8] >> (i % 8)) & 1u;
  return keep;
}

float f32_scale(const simdrop_params& p) { return oracle::scale(p.keep_prob, p.threshold_bits); }

bool same_bits(float a, float b) { return simdrop_test::float_bits(a) == simdrop_test::float_bits(b); }

template <class T>
bool same_bytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

using simdrop_test::for_each_isa_and_threads;

// Runs fn with the scalar implementation on one thread (the reference output).
template <class F>
void as_scalar(F&& fn) {
  simdrop_test::forced_isa guard("scalar");
  REQUIRE(simdrop_set_num_threads(1) == SIMDROP_OK);
  fn();
  simdrop_set_num_threads(0);
}

// ---------------------------------------------------------------------------------------- 2-D

struct shape_2d {
  std::size_t rows, cols, ldx, ldy, ldmask;
};

// y and mask of a 2-D forward built from 1-D simdrop_forward_f32 calls, one per
// row at offset + r*cols, over buffers prefilled with the same poison.
void reference_2d(const std::vector<float>& x, std::vector<float>& y, std::vector<u8>& mask, const shape_2d& s,
                  simdrop_params p) {
  const u64 offset = p.offset;
  std::vector<float> row_y(s.cols);
  std::vector<u8> row_mask((s.cols + 7) / 8);
  for (std::size_t r = 0; r < s.rows; ++r) {
    p.offset = offset + r * s.cols;
    REQUIRE(simdrop_forward_f32(x.data() + r * s.ldx, row_y.data(), s.cols, &p, row_mask.data()) == SIMDROP_OK);
    std::copy(row_y.begin(), row_y.end(), y.begin() + std::ptrdiff_t(r * s.ldy));
    std::copy(row_mask.begin(), row_mask.end(), mask.begin() + std::ptrdiff_t(r * s.ldmask));
  }
}

std::size_t view_size(std::size_t rows, std::size_t cols, std::size_t ld) { return rows ? (rows - 1) * ld + cols : 0; }

void check_2d_shape(const shape_2d& s, const simdrop_params& p, std::uint64_t seed) {
  const std::vector<float> x = simdrop_test::test_inputs(view_size(s.rows, s.cols, s.ldx), seed);
  const std::size_t ny = view_size(s.rows, s.cols, s.ldy), nmask = view_size(s.rows, (s.cols + 7) / 8, s.ldmask);
  const float poison = simdrop_test::float_from_bits(0x7F812345u);
  std::vector<float> expected_y(ny, poison);
  std::vector<u8> expected_mask(nmask, 0xA5);
  reference_2d(x, expected_y, expected_mask, s, p);

  // The scalar implementation's own 2-D call gives the same bytes.
  as_scalar([&] {
    std::vector<float> y(ny, poison);
    std::vector<u8> mask(nmask, 0xA5);
    REQUIRE(simdrop_forward_2d_f32(x.data(), s.ldx, y.data(), s.ldy, s.rows, s.cols, &p, mask.data(), s.ldmask) ==
            SIMDROP_OK);
    REQUIRE(same_bytes(y, expected_y));
    REQUIRE(same_bytes(mask, expected_mask));
  });

  for_each_isa_and_threads([&](const std::string&, int) {
    std::vector<float> y(ny, poison);
    std::vector<u8> mask(nmask, 0xA5);
    REQUIRE(simdrop_forward_2d_f32(x.data(), s.ldx, y.data(), s.ldy, s.rows, s.cols, &p, mask.data(), s.ldmask) ==
            SIMDROP_OK);
    const std::size_t bad = simdrop_test::first_float_mismatch(y.data(), expected_y.data(), ny);
    INFO(simdrop_test::describe_floats(y.data(), expected_y.data(), bad));
    REQUIRE(bad == simdrop_test::npos);
    REQUIRE(same_bytes(mask, expected_mask));
    // Backward: the same values from dy, no mask.
    std::vector<float> dx(ny, poison);
    REQUIRE(simdrop_backward_2d_f32(x.data(), s.ldx, dx.data(), s.ldy, s.rows, s.cols, &p) == SIMDROP_OK);
    REQUIRE(same_bytes(dx, expected_y));
    // In place (the very same view).
    std::vector<float> inout = x;
    if (s.ldx == s.ldy) {
      REQUIRE(simdrop_forward_2d_f32(inout.data(), s.ldx, inout.data(), s.ldx, s.rows, s.cols, &p, nullptr, 0) ==
              SIMDROP_OK);
      for (std::size_t r = 0; r < s.rows; ++r)
        for (std::size_t c = 0; c < s.cols; ++c)
          REQUIRE(same_bits(inout[r * s.ldx + c], expected_y[r * s.ldy + c]));
    }
  });
}

TEST_CASE("2-D forward and backward: per-row 1-D calls at offset + r*cols, every ISA and thread count",
          "[extensions][2d]") {
  test_rng rng(0x2D2D2D);
  std::vector<std::pair<shape_2d, simdrop_params>> cases;
  for (int k = 0; k < 12; ++k) {
    const std::size_t rows = 1 + rng.below(24), cols = 1 + rng.below(300);
    const shape_2d s{rows, cols, cols + rng.below(3) * rng.below(20), cols + rng.below(3) * rng.below(20),
                     (cols + 7) / 8 + rng.below(3)};
    cases.emplace_back(s, random_params(rng));
  }
  // Large enough for the threads: many rows, and a few long rows that the threads share.
  simdrop_params big = make_params(0.7f, 99, 3, 12345, SIMDROP_PHILOX4X32_10, 32);
  cases.push_back({{700, 301, 305, 303, 40}, big});  // short rows: decisions a block of rows at a time
  big.offset = 77;
  cases.push_back({{150, 1500, 1501, 1500, 190}, big});  // long rows: one kernel call per row
  big.generator = SIMDROP_XOSHIRO128PP;
  big.threshold_bits = 16;
  cases.push_back({{2, 140001, 140003, 140001, 17501}, big});
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const shape_2d& s = cases[i].first;
    INFO("case " << i << ": rows " << s.rows << " cols " << s.cols << " ldx " << s.ldx << " ldy " << s.ldy
                 << " ldmask " << s.ldmask << " offset " << cases[i].second.offset);
    check_2d_shape(s, cases[i].second, 1000 + i);
  }
}

TEST_CASE("2-D values and mask bits equal the oracle", "[extensions][2d][oracle]") {
  test_rng rng(77);
  for (int k = 0; k < 6; ++k) {
    const simdrop_params p = random_params(rng);
    const std::size_t rows = 1 + rng.below(6), cols = 1 + rng.below(70), ld = cols + rng.below(5);
    const std::size_t ldmask = (cols + 7) / 8 + rng.below(2);
    const std::vector<float> x = simdrop_test::test_inputs(view_size(rows, cols, ld), 5 + k);
    std::vector<float> y(x.size(), 1.0f);
    std::vector<u8> mask(view_size(rows, (cols + 7) / 8, ldmask), 0);
    REQUIRE(simdrop_forward_2d_f32(x.data(), ld, y.data(), ld, rows, cols, &p, mask.data(), ldmask) == SIMDROP_OK);
    const float s = f32_scale(p);
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < cols; ++c) {
        const bool keep = oracle::keep(p, p.offset + r * cols + c);
        REQUIRE(same_bits(y[r * ld + c], oracle::apply(keep, x[r * ld + c], s)));
        REQUIRE(oracle::mask_bit(mask.data() + r * ldmask, c) == keep);
      }
  }
}

TEST_CASE("2-D views whose rows start at multiples of 32 elements: one kernel pass over the rows",
          "[extensions][2d]") {
  // Forward (with a mask too, whose rows may have bytes between them),
  // backward and forward in place (check_2d_shape) take one kernel pass over
  // the rows when cols and offset are multiples of a register's elements (16,
  // 32 or 64 by the threshold width) and cols is at least 64; rows of 96
  // elements are that for 32- and 16-bit thresholds and not for 8-bit ones.
  // Every width, row lengths that are and are not powers of two, offsets up
  // to 2^40.
  test_rng rng(0x3232);
  const std::size_t cols_list[] = {32, 96, 160, 224, 512, 800, 4064};
  for (const simdrop_test::generator_width& gw : simdrop_test::all_generator_widths)
    for (std::size_t k = 0; k < std::size(cols_list); ++k) {
      const std::size_t cols = cols_list[k], rows = 1 + rng.below(40);
      const std::size_t ld = cols + (k % 2 ? 0 : rng.below(40)), ldmask = (cols + 7) / 8 + k % 3;
      simdrop_params p = random_params(rng);
      p.generator = gw.generator;
      p.threshold_bits = gw.threshold_bits;
      p.keep_prob = 0.6f;
      p.offset = k % 3 == 0 ? 0 : k % 3 == 1 ? 32 * rng.below(1000) : (u64(1) << 40) + 64;
      INFO(gw.name << ", cols " << cols << " rows " << rows << " ld " << ld << " offset " << p.offset);
      check_2d_shape({rows, cols, ld, k % 2 ? ld : ld + 16, ldmask}, p, 2000 + k);
    }
}

TEST_CASE("2-D views above the streaming-store size equal the per-row scalar calls, with and without a mask",
          "[extensions][2d][streaming]") {
  // The kernels take a view in one pass over its rows (row_layout), with a
  // mask when cols and offset are multiples of a register. With ld a multiple
  // of 16 too and y 64-byte aligned (the first and third views) they write y
  // with streaming stores from 2^22 elements; the second takes normal stores,
  // the last (cols 1000, offset 5) splits the vectors at row ends, and its
  // mask is composed.
  struct view {
    std::size_t cols, ld;
    u64 offset;
    simdrop_generator generator;
    std::uint32_t bits;
  };
  const view views[] = {{1024, 1088, 0, SIMDROP_PHILOX4X32_10, 32},
                        {992, 1000, 32, SIMDROP_XOSHIRO128PP, 16},
                        {96, 112, 64, SIMDROP_PHILOX4X32_10, 16},
                        {1000, 1003, 5, SIMDROP_PHILOX4X32_10, 16}};
  const std::size_t count = simdrop_test::reduced_mode() ? 1 : std::size(views);
  const float poison = simdrop_test::float_from_bits(0x7F812345u);
  for (std::size_t k = 0; k < count; ++k) {
    const view& v = views[k];
    const std::size_t rows = (std::size_t(1) << 22) / v.cols + 3;
    const shape_2d s{rows, v.cols, v.ld, v.ld, (v.cols + 7) / 8 + 3};
    simdrop_params p = make_params(0.8f, 0xD00D + k, 11, v.offset, v.generator, v.bits);
    INFO("view " << k << ": rows " << rows << " cols " << v.cols << " ld " << v.ld << " offset " << v.offset);
    const std::size_t ny = view_size(rows, v.cols, v.ld);
    const std::vector<float> x = simdrop_test::test_inputs(ny, 0xF00D + k);
    std::vector<float> expected(ny, poison);
    const std::size_t nmask = view_size(rows, (v.cols + 7) / 8, s.ldmask);
    std::vector<u8> expected_mask(nmask, 0xA5);
    as_scalar([&] { reference_2d(x, expected, expected_mask, s, p); });
    for_each_isa_and_threads([&] {
      for (bool with_mask : {false, true}) {
        INFO((with_mask ? "with" : "without") << " a mask");
        simdrop_test::guarded<float> y(ny, 0);
        y.assign(std::vector<float>(ny, poison));
        std::vector<u8> mask(with_mask ? nmask : 0, 0xA5);
        REQUIRE(simdrop_forward_2d_f32(x.data(), v.ld, y.data(), v.ld, rows, v.cols, &p,
                                       with_mask ? mask.data() : nullptr, s.ldmask) == SIMDROP_OK);
        const std::size_t bad = simdrop_test::first_float_mismatch(y.data(), expected.data(), ny);
        INFO(simdrop_test::describe_floats(y.data(), expected.data(), bad));
        CHECK(bad == simdrop_test::npos);
        if (with_mask) CHECK(same_bytes(mask, expected_mask));
        INFO(y.guard_report());
        CHECK(y.guards_intact());
      }
    });
  }
}

TEST_CASE("a 2-D call with ld == cols equals the 1-D call on the same data", "[extensions][2d]") {
  test_rng rng(4242);
  for_each_isa_and_threads([&](const std::string&, int) {
    for (int k = 0; k < 6; ++k) {
      const simdrop_params p = random_params(rng);
      const std::size_t rows = 1 + rng.below(40), cols = 8 * (1 + rng.below(40)) + (k % 2 ? rng.below(8) : 0);
      const std::size_t n = rows * cols;
      const std::vector<float> x = simdrop_test::test_inputs(n, 31 + k);
      std::vector<float> y1(n), y2(n);
      std::vector<u8> m1((n + 7) / 8), m2(rows * ((cols + 7) / 8));
      REQUIRE(simdrop_forward_f32(x.data(), y1.data(), n, &p, m1.data()) == SIMDROP_OK);
      REQUIRE(simdrop_forward_2d_f32(x.data(), cols, y2.data(), cols, rows, cols, &p, m2.data(), (cols + 7) / 8) ==
              SIMDROP_OK);
      REQUIRE(same_bytes(y1, y2));
      if (cols % 8 == 0) REQUIRE(same_bytes(m1, m2));
      for (std::size_t i = 0; i < n; ++i)
        REQUIRE(oracle::mask_bit(m1.data(), i) == oracle::mask_bit(m2.data() + (i / cols) * ((cols + 7) / 8), i % cols));
    }
  });
}

// ----------------------------------------------------------------------------------- channels

std::size_t channel_element(std::size_t n, std::size_t c, std::size_t s, std::size_t channels, std::size_t spatial,
                            int channels_last) {
  return channels_last ? (n * spatial + s) * channels + c : (n * channels + c) * spatial + s;
}

TEST_CASE("channel dropout: one decision per (n, c) at offset + n*channels + c, both layouts",
          "[extensions][channels]") {
  struct shape {
    std::size_t batch, channels, spatial;
  };
  test_rng rng(0xC4A77E1);
  std::vector<shape> shapes = {{1, 1, 1},   {2, 3, 5},       {3, 17, 1},   {4, 9, 0},   {1, 2049, 3},
                               {2, 5000, 2}, {2, 64, 4100},  {1, 3, 70000}, {8, 300, 97},
                               // channels first: runs around a 64-bit word (63, 64, 65), the last
                               // spread length and the first run applied on its own (1023, 1024)
                               {2, 11, 63},  {2, 9, 64},     {1, 40, 65},   {3, 5, 1023}, {3, 7, 1024}};
  for (int k = 0; k < 6; ++k) shapes.push_back({1 + rng.below(6), 1 + rng.below(100), rng.below(50)});
  for (std::size_t si = 0; si < shapes.size(); ++si) {
    const shape sh = shapes[si];
    const simdrop_params p = random_params(rng);
    const std::size_t decisions = sh.batch * sh.channels, n = decisions * sh.spatial;
    const std::vector<bool> keep = library_decisions(p, p.offset, decisions);
    const std::vector<u8> expected_mask = oracle::mask_bytes(keep);
    const std::vector<float> x = simdrop_test::test_inputs(n, 900 + si);
    const float s = f32_scale(p);
    for (int layout : {0, 1}) {
      INFO("batch " << sh.batch << " channels " << sh.channels << " spatial " << sh.spatial << " channels_last "
                    << layout << " offset " << p.offset << " generator " << p.generator << " bits "
                    << p.threshold_bits << " keep_prob " << p.keep_prob);
      std::vector<float> expected(n);
      for (std::size_t b = 0; b < sh.batch; ++b)
        for (std::size_t c = 0; c < sh.channels; ++c)
          for (std::size_t sp = 0; sp < sh.spatial; ++sp) {
            const std::size_t at = channel_element(b, c, sp, sh.channels, sh.spatial, layout);
            expected[at] = oracle::apply(keep[b * sh.channels + c], x[at], s);
          }
      if (decisions <= 300)  // the decisions themselves against the oracle
        REQUIRE(keep == oracle::decisions(p, decisions));
      std::vector<float> scalar_y(n, 7.0f);
      as_scalar([&] {
        REQUIRE(simdrop_forward_channels_f32(x.data(), scalar_y.data(), sh.batch, sh.channels, sh.spatial, layout, &p,
                                             nullptr) == SIMDROP_OK);
      });
      REQUIRE(same_bytes(scalar_y, expected));
      for_each_isa_and_threads([&](const std::string&, int) {
        std::vector<float> y(n, 7.0f);
        std::vector<u8> mask(expected_mask.size(), 0xA5);
        REQUIRE(simdrop_forward_channels_f32(x.data(), y.data(), sh.batch, sh.channels, sh.spatial, layout, &p,
                                             mask.data()) == SIMDROP_OK);
        const std::size_t bad = simdrop_test::first_float_mismatch(y.data(), expected.data(), n);
        INFO(simdrop_test::describe_floats(y.data(), expected.data(), bad));
        REQUIRE(bad == simdrop_test::npos);
        REQUIRE(same_bytes(mask, expected_mask));
        std::vector<float> inout = x;  // in place
        REQUIRE(simdrop_forward_channels_f32(inout.data(), inout.data(), sh.batch, sh.channels, sh.spatial, layout,
                                             &p, nullptr) == SIMDROP_OK);
        REQUIRE(same_bytes(inout, expected));
      });
    }
  }
}

// ----------------------------------------------------------------------------------- fused

bool is_nan(float v) { return (simdrop_test::float_bits(v) & 0x7FFFFFFFu) > 0x7F800000u; }

// Kept: fmaf(x + bias, s, residual); when that is NaN because an operand is, the
// first NaN among x, bias, residual with its quiet bit set (the library's rule,
// which IEEE leaves open).
float fused_reference(float x, float bias, float residual, float s) {
  const float v = std::fma(x + bias, s, residual);
  if (!is_nan(v)) return v;
  for (float operand : {x, bias, residual})
    if (is_nan(operand)) return simdrop_test::float_from_bits(simdrop_test::float_bits(operand) | 0x00400000u);
  return v;
}

// One fused call into y with a poisoned mask: y and the mask must equal the expected ones.
void check_fused_call(const std::vector<float>& x, const std::vector<float>& bias, const std::vector<float>& residual,
                      float* y, std::size_t rows, std::size_t cols, const simdrop_params& p,
                      const std::vector<float>& expected, const std::vector<u8>& expected_mask) {
  std::vector<u8> mask(expected_mask.size(), 0xA5);
  REQUIRE(simdrop_bias_dropout_add_f32(x.data(), bias.data(), residual.data(), y, rows, cols, &p, mask.data()) ==
          SIMDROP_OK);
  const std::size_t bad = simdrop_test::first_float_mismatch(y, expected.data(), rows * cols);
  INFO(simdrop_test::describe_floats(y, expected.data(), bad));
  CHECK(bad == simdrop_test::npos);
  CHECK(same_bytes(mask, expected_mask));
}

TEST_CASE("bias-dropout-add: kept fmaf(x + bias, s, residual), dropped residual bit for bit",
          "[extensions][fused]") {
  test_rng rng(0xF05ED);
  struct shape {
    std::size_t rows, cols;
  };
  // Rows of a multiple of 32 elements at an offset that is one too take the
  // implementations' one-pass kernel (bias_dropout_add_f32): every other shape
  // with cols % 32 == 0 gets its offset rounded down to a multiple of 32.
  std::vector<shape> shapes = {{1, 1}, {3, 7}, {5, 33}, {2, 4097}, {300, 768}, {1, 9000},
                               {7, 32}, {33, 96}, {4, 4096}, {301, 768}, {2, 1024}, {9, 160}};
  for (int k = 0; k < 6; ++k) shapes.push_back({1 + rng.below(30), 1 + rng.below(200)});
  for (std::size_t si = 0; si < shapes.size(); ++si) {
    const std::size_t rows = shapes[si].rows, cols = shapes[si].cols, n = rows * cols;
    simdrop_params p = random_params(rng);
    if (cols % 32 == 0 && si % 2 == 0) p.offset -= p.offset % 32;
    INFO("rows " << rows << " cols " << cols << " offset " << p.offset << " keep_prob " << p.keep_prob);
    const std::vector<float> x = simdrop_test::test_inputs(n, 10 + si), residual = simdrop_test::test_inputs(n, 20 + si);
    const std::vector<float> bias = simdrop_test::test_inputs(cols, 30 + si);
    const std::vector<bool> keep = library_decisions(p, p.offset, n);
    const float s = f32_scale(p);
    std::vector<float> expected(n);
    for (std::size_t i = 0; i < n; ++i)
      expected[i] = keep[i] ? fused_reference(x[i], bias[i % cols], residual[i], s) : residual[i];
    const std::vector<u8> expected_mask = oracle::mask_bytes(keep);
    std::vector<float> scalar_y(n, 3.0f);
    as_scalar([&] {
      REQUIRE(simdrop_bias_dropout_add_f32(x.data(), bias.data(), residual.data(), scalar_y.data(), rows, cols, &p,
                                           nullptr) == SIMDROP_OK);
    });
    {
      const std::size_t bad = simdrop_test::first_float_mismatch(scalar_y.data(), expected.data(), n);
      INFO(simdrop_test::describe_floats(scalar_y.data(), expected.data(), bad));
      REQUIRE(bad == simdrop_test::npos);
    }
    for_each_isa_and_threads([&](const std::string&, int) {
      std::vector<float> y(n, 3.0f);
      check_fused_call(x, bias, residual, y.data(), rows, cols, p, expected, expected_mask);
      std::vector<float> in_x = x, in_r = residual;  // y == x and y == residual
      REQUIRE(simdrop_bias_dropout_add_f32(in_x.data(), bias.data(), residual.data(), in_x.data(), rows, cols, &p,
                                           nullptr) == SIMDROP_OK);
      REQUIRE(same_bytes(in_x, expected));
      REQUIRE(simdrop_bias_dropout_add_f32(x.data(), bias.data(), in_r.data(), in_r.data(), rows, cols, &p,
                                           nullptr) == SIMDROP_OK);
      REQUIRE(same_bytes(in_r, expected));
    });
  }
}

TEST_CASE("bias-dropout-add: NaN and infinity combinations give the same bits on every ISA",
          "[extensions][fused]") {
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN(),
                            simdrop_test::float_from_bits(0x7FA00001u), simdrop_test::float_from_bits(0xFFC12345u),
                            std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                            1.0f, -0.0f, 3e38f};
  std::vector<float> x, bias, residual;
  for (float a : specials)
    for (float b : specials)
      for (float r : specials) {
        x.push_back(a);
        bias.push_back(b);
        residual.push_back(r);
      }
  const std::size_t n = x.size();
  for (float keep_prob : {1.0f, 0.5f}) {
    const simdrop_params p = make_params(keep_prob, 5, 6, 7, SIMDROP_PHILOX4X32_10, 32);
    const std::vector<bool> keep = library_decisions(p, p.offset, n);
    const float s = f32_scale(p);
    for (const std::string& isa : simdrop_test::supported_implementations()) {
      simdrop_test::forced_isa guard(isa);
      std::vector<float> y(n);
      // One row per element, so that every element gets its own bias.
      for (std::size_t i = 0; i < n; ++i) {
        simdrop_params pi = p;
        pi.offset = p.offset + i;
        REQUIRE(simdrop_bias_dropout_add_f32(&x[i], &bias[i], &residual[i], &y[i], 1, 1, &pi, nullptr) == SIMDROP_OK);
      }
      // And as one call of n rows with a broadcast bias made of equal entries.
      for (std::size_t i = 0; i < n; ++i) {
        INFO(isa << ": x " << simdrop_test::hex(simdrop_test::float_bits(x[i])) << " bias "
                 << simdrop_test::hex(simdrop_test::float_bits(bias[i])) << " residual "
                 << simdrop_test::hex(simdrop_test::float_bits(residual[i])) << " kept " << keep[i]);
        const float expected = keep[i] ? fused_reference(x[i], bias[i], residual[i], s) : residual[i];
        REQUIRE(simdrop_test::float_bits(y[i]) == simdrop_test::float_bits(expected));
      }
      // Padded to 23 rows of 32 at offset 32: the one-pass kernel, where there is one.
      {
        const std::size_t padded = 736;
        std::vector<float> xp = x, rp = residual, bp = bias;
        xp.resize(padded, 1.0f);
        rp.resize(padded, 2.0f);
        bp.resize(padded, 0.5f);
        simdrop_params p32 = p;
        p32.offset = 32;
        const std::vector<bool> keep32 = library_decisions(p32, p32.offset, padded);
        std::vector<float> y3(padded);
        // Every element its own bias: one row of `padded` columns.
        REQUIRE(simdrop_bias_dropout_add_f32(xp.data(), bp.data(), rp.data(), y3.data(), 1, padded, &p32, nullptr) ==
                SIMDROP_OK);
        for (std::size_t i = 0; i < padded; ++i) {
          INFO(isa << " padded, element " << i);
          const float expected = keep32[i] ? fused_reference(xp[i], bp[i], rp[i], s) : rp[i];
          REQUIRE(simdrop_test::float_bits(y3[i]) == simdrop_test::float_bits(expected));
        }
      }
      for (std::size_t b = 0; b < sizeof specials / sizeof specials[0]; ++b) {
        std::vector<float> y2(n), bias_row(n, specials[b]);
        REQUIRE(simdrop_bias_dropout_add_f32(x.data(), bias_row.data(), residual.data(), y2.data(), 1, n, &p,
                                             nullptr) == SIMDROP_OK);
        for (std::size_t i = 0; i < n; ++i) {
          const float expected = keep[i] ? fused_reference(x[i], specials[b], residual[i], s) : residual[i];
          REQUIRE(simdrop_test::float_bits(y2[i]) == simdrop_test::float_bits(expected));
        }
      }
    }
  }
}

TEST_CASE("bias-dropout-add above the streaming-store size equals the portable loop", "[extensions][fused][streaming]") {
  // 2^22 + rows of 1024 at offset 0 with a 64-byte aligned y: the one-pass
  // kernel writes y with streaming stores (it moves 12 bytes per element);
  // y one float off takes the normal stores.
  const std::size_t rows = 2800, cols = 1024, n = rows * cols;
  const simdrop_params p = make_params(0.7f, 0xB1A5, 4, 0, SIMDROP_PHILOX4X32_10, 32);
  const std::vector<float> x = simdrop_test::test_inputs(n, 71), residual = simdrop_test::test_inputs(n, 72);
  const std::vector<float> bias = simdrop_test::test_inputs(cols, 73);
  std::vector<float> expected(n);
  std::vector<u8> expected_mask((n + 7) / 8);
  as_scalar([&] {
    REQUIRE(simdrop_bias_dropout_add_f32(x.data(), bias.data(), residual.data(), expected.data(), rows, cols, &p,
                                         expected_mask.data()) == SIMDROP_OK);
  });
  for (const std::size_t misalign : {std::size_t(0), std::size_t(1)}) {
    for_each_isa_and_threads([&](const std::string&, int) {
      INFO("y misaligned by " << misalign);
      simdrop_test::guarded<float> y(n, misalign);
      check_fused_call(x, bias, residual, y.data(), rows, cols, p, expected, expected_mask);
      INFO(y.guard_report());
      CHECK(y.guards_intact());
    });
  }
}

// ----------------------------------------------------------------------------------- f64

TEST_CASE("f64: kept x * (double)(2^bits / T), dropped +0, decisions of f32", "[extensions][f64]") {
  test_rng rng(0xF64);
  for (std::size_t n : {std::size_t(1), std::size_t(13), std::size_t(4099), std::size_t(9000), std::size_t(300001)}) {
    const simdrop_params p = random_params(rng);
    INFO("n " << n << " offset " << p.offset << " keep_prob " << p.keep_prob << " bits " << p.threshold_bits);
    std::vector<double> x(n);
    const std::vector<float> xf = simdrop_test::test_inputs(n, n);
    for (std::size_t i = 0; i < n; ++i) x[i] = double(xf[i]) * (1.0 + 1.0 / 3.0);
    const std::vector<bool> keep = library_decisions(p, p.offset, n);
    const u64 t = oracle::threshold(p.keep_prob, p.threshold_bits);
    const double s = t ? oracle::two_to_the(p.threshold_bits) / double(t) : 0.0;
    std::vector<double> expected(n);
    for (std::size_t i = 0; i < n; ++i) expected[i] = keep[i] ? x[i] * s : 0.0;
    const std::vector<u8> expected_mask = oracle::mask_bytes(keep);
    std::vector<double> scalar_y(n, 5.0);
    as_scalar([&] { REQUIRE(simdrop_forward_f64(x.data(), scalar_y.data(), n, &p, nullptr) == SIMDROP_OK); });
    REQUIRE(same_bytes(scalar_y, expected));
    for_each_isa_and_threads([&](const std::string&, int) {
      std::vector<double> y(n, 5.0), dx(n, 5.0);
      std::vector<u8> mask(expected_mask.size(), 0xA5);
      REQUIRE(simdrop_forward_f64(x.data(), y.data(), n, &p, mask.data()) == SIMDROP_OK);
      REQUIRE(same_bytes(y, expected));
      REQUIRE(same_bytes(mask, expected_mask));
      REQUIRE(simdrop_backward_f64(x.data(), dx.data(), n, &p) == SIMDROP_OK);
      REQUIRE(same_bytes(dx, expected));
      std::vector<double> inout = x;
      REQUIRE(simdrop_forward_f64(inout.data(), inout.data(), n, &p, nullptr) == SIMDROP_OK);
      REQUIRE(same_bytes(inout, expected));
    });
  }
}

// ----------------------------------------------------------------------------- bf16 / f16

// Independent references: decode with ldexp, round with double arithmetic
// (std::nearbyint in the default round-to-nearest-even mode), encode from the
// rounded value. NaN: the input with its quiet bit set.

double half_value(u16 h) {
  const int e = (h >> 10) & 31, m = h & 1023;
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (e == 31) return m ? std::numeric_limits<double>::quiet_NaN() : sign * std::numeric_limits<double>::infinity();
  return sign * (e == 0 ? std::ldexp(double(m), -24) : std::ldexp(double(1024 + m), e - 25));
}

double bf16_value(u16 h) {
  const int e = (h >> 7) & 255, m = h & 127;
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (e == 255) return m ? std::numeric_limits<double>::quiet_NaN() : sign * std::numeric_limits<double>::infinity();
  return sign * (e == 0 ? std::ldexp(double(m), -133) : std::ldexp(double(128 + m), e - 134));
}

// Rounds a (non-NaN) value to a format with `mantissa_bits` stored bits, minimum
// normal exponent `min_exponent` and exponent bias `bias`; returns the bits.
u16 round_to_format(double v, int mantissa_bits, int min_exponent, int bias, double overflow_at) {
  const u16 sign = std::signbit(v) ? 0x8000 : 0;
  const double a = std::fabs(v);
  const u16 infinity = u16(((2 * bias + 1) << mantissa_bits));
  if (a >= overflow_at) return u16(sign | infinity);  // includes infinity
  const int e = std::max(std::ilogb(a == 0.0 ? 1.0 : a), min_exponent);
  const double quantum = std::ldexp(1.0, e - mantissa_bits);
  const double r = std::nearbyint(a / quantum) * quantum;
  if (r == 0.0) return sign;
  if (r < std::ldexp(1.0, min_exponent)) return u16(sign | u16(r / std::ldexp(1.0, min_exponent - mantissa_bits)));
  const int e2 = std::ilogb(r);
  const double mantissa = r / std::ldexp(1.0, e2) * std::ldexp(1.0, mantissa_bits) - std::ldexp(1.0, mantissa_bits);
  return u16(sign | u16((e2 + bias) << mantissa_bits) | u16(mantissa));
}

u16 reference_f16_of_float(float v) {
  const u32 bits = simdrop_test::float_bits(v);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return u16(((bits >> 16) & 0x8000u) | 0x7E00u | ((bits >> 13) & 0x3FFu));
  return round_to_format(double(v), 10, -14, 15, 65520.0);
}

u16 reference_bf16_of_float(float v) {
  const u32 bits = simdrop_test::float_bits(v);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return u16((bits >> 16) | 0x0040u);
  return round_to_format(double(v), 7, -126, 127, std::ldexp(2.0 - std::ldexp(1.0, -8), 127));
}

u16 reference_f16(u16 x, float s) {
  if ((x & 0x7C00) == 0x7C00 && (x & 0x3FF)) return u16(x | 0x0200);
  const float product = float(half_value(x)) * s;
  return round_to_format(double(product), 10, -14, 15, 65520.0);
}

u16 reference_bf16(u16 x, float s) {
  if ((x & 0x7F80) == 0x7F80 && (x & 0x7F)) return u16(x | 0x0040);
  const float product = float(bf16_value(x)) * s;
  return round_to_format(double(product), 7, -126, 127, std::ldexp(2.0 - std::ldexp(1.0, -8), 127));
}

TEST_CASE("portable conversions: f16/bf16 to float exactly, float to f16/bf16 rounded to nearest even",
          "[extensions][convert]") {
  using namespace simdrop::detail;
  // Widening: every 16-bit input. NaN: quiet, payload kept.
  for (u32 i = 0; i < 65536; ++i) {
    const u16 h = u16(i);
    const float f = half_to_float(h), b = bf16_to_float(h);
    INFO("input " << simdrop_test::hex(h));
    if (std::isnan(half_value(h))) {
      REQUIRE(simdrop_test::float_bits(f) == (u32(h & 0x8000) << 16 | 0x7FC00000u | u32(h & 0x3FF) << 13));
    } else {
      REQUIRE(double(f) == half_value(h));
      REQUIRE(std::signbit(f) == bool(h & 0x8000));
    }
    if (std::isnan(bf16_value(h)))
      REQUIRE(simdrop_test::float_bits(b) == u32(h) << 16);
    else
      REQUIRE(double(b) == bf16_value(h));
  }
  // Narrowing: floats spread over every exponent (a stride through all 2^32
  // bit patterns), then the halfway cases and their neighbours of every f16
  // and bf16 value, against the double-arithmetic references.
  auto check = [](u32 bits) {
    const float f = simdrop_test::float_from_bits(bits);
    INFO("float " << simdrop_test::hex(bits));
    REQUIRE(float_to_half(f) == reference_f16_of_float(f));
    REQUIRE(float_to_bf16(f) == reference_bf16_of_float(f));
  };
  const u64 stride = simdrop_test::reduced_mode() ? 40009 : 4099;
  for (u64 bits = 0; bits <= 0xFFFFFFFFull; bits += stride) check(u32(bits));
  for (u32 i = 0; i < 65536; ++i) {
    const float half = half_to_float(u16(i)), bf = bf16_to_float(u16(i));
    for (u32 base : {simdrop_test::float_bits(half) + (1u << 12), simdrop_test::float_bits(bf) + (1u << 15)})
      for (u32 delta : {0u, 1u, 0xFFFFFFFFu})
        check(base + delta);  // the midpoint above each value, and the floats next to it
  }
}

using forward16 = int (*)(const u16*, u16*, std::size_t, const simdrop_params*, u8*);
using backward16 = int (*)(const u16*, u16*, std::size_t, const simdrop_params*);

void check_all_16bit_inputs(const char* name, forward16 forward, backward16 backward, u16 (*reference)(u16, float)) {
  std::vector<u16> x(65536);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = u16(i);
  const float keeps[] = {1.0f, 0.999f, 0.8f, 0.5f, 0.3f, 0.1f};
  for (float keep_prob : keeps)
    for (u32 bits : {32u, 16u}) {
      const simdrop_params p = make_params(keep_prob, 0xB16B00B5ull + bits, 11, 1 + u64(keep_prob * 1000), SIMDROP_PHILOX4X32_10, bits);
      const float s = f32_scale(p);
      const std::vector<bool> keep = library_decisions(p, p.offset, x.size());
      std::vector<u16> expected(x.size());
      std::size_t kept = 0;
      for (std::size_t i = 0; i < x.size(); ++i) {
        expected[i] = keep[i] ? reference(x[i], s) : u16(0);
        kept += keep[i];
      }
      if (keep_prob == 1.0f) REQUIRE(kept == x.size());
      if (keep_prob < 1.0f) REQUIRE(kept < x.size());
      const std::vector<u8> expected_mask = oracle::mask_bytes(keep);
      auto check = [&](const std::string& isa) {
        INFO(name << " on " << isa << ", keep_prob " << keep_prob << " (s = " << s << "), bits " << bits);
        std::vector<u16> y(x.size(), 0xA5A5), dx(x.size(), 0xA5A5);
        std::vector<u8> mask(expected_mask.size(), 0xA5);
        REQUIRE(forward(x.data(), y.data(), x.size(), &p, mask.data()) == SIMDROP_OK);
        const std::size_t bad = simdrop_test::first_mismatch(y.data(), expected.data(), y.size());
        INFO("input " << simdrop_test::hex(bad == simdrop_test::npos ? 0 : x[bad]) << ": "
                      << simdrop_test::describe_values(y.data(), expected.data(), bad));
        REQUIRE(bad == simdrop_test::npos);
        REQUIRE(same_bytes(mask, expected_mask));
        REQUIRE(backward(x.data(), dx.data(), x.size(), &p) == SIMDROP_OK);
        REQUIRE(same_bytes(dx, expected));
        std::vector<u16> inout = x;
        REQUIRE(forward(inout.data(), inout.data(), inout.size(), &p, nullptr) == SIMDROP_OK);
        REQUIRE(same_bytes(inout, expected));
      };
      for (const std::string& isa : simdrop_test::supported_implementations()) {
        simdrop_test::forced_isa guard(isa);
        check(isa);
      }
    }
}

TEST_CASE("f16: all 65,536 inputs, kept and dropped, against exact rounding on every ISA", "[extensions][f16]") {
  check_all_16bit_inputs("f16", simdrop_forward_f16, simdrop_backward_f16, reference_f16);
}

TEST_CASE("bf16: all 65,536 inputs, kept and dropped, against exact rounding on every ISA", "[extensions][bf16]") {
  check_all_16bit_inputs("bf16", simdrop_forward_bf16, simdrop_backward_bf16, reference_bf16);
}

TEST_CASE("bf16 and f16: random sizes, offsets and thread counts equal scalar", "[extensions][f16][bf16]") {
  // f16 takes the implementations' halves kernel for the whole word registers
  // (global multiples of 32) and its loop for the ends, when the offset is a
  // multiple of 8 (with a mask): the last sizes run at offsets rounded so.
  test_rng rng(0x1616);
  const std::size_t sizes[] = {1, 7, 31, 8193, 200003, 33, 64, 95, 4099, 70001};
  for (std::size_t k = 0; k < std::size(sizes); ++k) {
    const std::size_t n = sizes[k];
    simdrop_params p = random_params(rng);
    if (k >= 5) p.offset -= p.offset % (k % 2 ? 8 : 32);
    INFO("n " << n << " offset " << p.offset << " keep_prob " << p.keep_prob << " bits " << p.threshold_bits);
    std::vector<u16> x(n);
    for (auto& v : x) v = u16(rng.next_u32());
    const forward16 forwards[] = {simdrop_forward_f16, simdrop_forward_bf16};
    for (forward16 forward : forwards) {
      std::vector<u16> expected(n);
      std::vector<u8> expected_mask((n + 7) / 8);
      as_scalar([&] { REQUIRE(forward(x.data(), expected.data(), n, &p, expected_mask.data()) == SIMDROP_OK); });
      for_each_isa_and_threads([&](const std::string&, int) {
        std::vector<u16> y(n, 0xA5A5);
        std::vector<u8> mask(expected_mask.size(), 0xA5);
        REQUIRE(forward(x.data(), y.data(), n, &p, mask.data()) == SIMDROP_OK);
        REQUIRE(same_bytes(y, expected));
        REQUIRE(same_bytes(mask, expected_mask));
      });
    }
  }
}

// -------------------------------------------------------------------------------- errors

TEST_CASE("new calls reject every bad input before writing anything", "[extensions][errors]") {
  const std::size_t rows = 4, cols = 10, n = rows * cols;
  std::vector<float> x(n + 64, 1.5f), residual(n, 2.0f), bias(cols, 0.25f);
  std::vector<float> y(n + 64, 9.0f);
  std::vector<double> xd(n, 1.5), yd(n, 9.0);
  std::vector<u16> xh(n + 8, 0x3C00), yh(n + 8, 0x1234);
  std::vector<u8> mask(64, 0x5A);
  const std::vector<float> y0 = y;
  const std::vector<double> yd0 = yd;
  const std::vector<u16> yh0 = yh;
  const std::vector<u8> mask0 = mask;
  const simdrop_params good = make_params(0.5f, 1, 2, 3, SIMDROP_PHILOX4X32_10, 32);
  auto unchanged = [&] {
    REQUIRE(same_bytes(y, y0));
    REQUIRE(same_bytes(yd, yd0));
    REQUIRE(same_bytes(yh, yh0));
    REQUIRE(same_bytes(mask, mask0));
  };

  SECTION("bad parameters: every call, every rule") {
    simdrop_params bad[5] = {good, good, good, good, good};
    bad[0].keep_prob = std::numeric_limits<float>::quiet_NaN();
    bad[1].keep_prob = 1.5f;
    bad[2].threshold_bits = 12;
    const int unknown_generator = 7;  // written as bytes: no out-of-range enum value is formed in C++
    static_assert(sizeof(bad[3].generator) == sizeof(int), "simdrop_generator is int-sized");
    std::memcpy(&bad[3].generator, &unknown_generator, sizeof unknown_generator);
    bad[4].keep_prob = -std::numeric_limits<float>::infinity();
    const int expected[5] = {SIMDROP_ERR_KEEP_PROB, SIMDROP_ERR_KEEP_PROB, SIMDROP_ERR_THRESHOLD_BITS,
                             SIMDROP_ERR_GENERATOR, SIMDROP_ERR_KEEP_PROB};
    for (int k = 0; k < 6; ++k) {
      const simdrop_params* p = k < 5 ? &bad[k] : nullptr;
      const int want = k < 5 ? expected[k] : SIMDROP_ERR_NULL_PARAMS;
      INFO("bad parameter set " << k);
      CHECK(simdrop_forward_2d_f32(x.data(), cols, y.data(), cols, rows, cols, p, mask.data(), 2) == want);
      CHECK(simdrop_backward_2d_f32(x.data(), cols, y.data(), cols, rows, cols, p) == want);
      CHECK(simdrop_forward_channels_f32(x.data(), y.data(), 2, 4, 5, 0, p, mask.data()) == want);
      CHECK(simdrop_bias_dropout_add_f32(x.data(), bias.data(), residual.data(), y.data(), rows, cols, p,
                                         mask.data()) == want);
      CHECK(simdrop_forward_f64(xd.data(), yd.data(), n, p, mask.data()) == want);
      CHECK(simdrop_backward_f64(xd.data(), yd.data(), n, p) == want);
      CHECK(simdrop_forward_bf16(xh.data(), yh.data(), n, p, mask.data()) == want);
      CHECK(simdrop_backward_bf16(xh.data(), yh.data(), n, p) == want);
      CHECK(simdrop_forward_f16(xh.data(), yh.data(), n, p, mask.data()) == want);
      CHECK(simdrop_backward_f16(xh.data(), yh.data(), n, p) == want);
      // Bad parameters are errors even for empty calls.
      CHECK(simdrop_forward_2d_f32(nullptr, 0, nullptr, 0, 0, 0, p, nullptr, 0) == want);
      CHECK(simdrop_forward_f16(nullptr, nullptr, 0, p, nullptr) == want);
      unchanged();
    }
  }

  SECTION("NULL data pointers with a nonempty call; empty calls accept NULL") {
    const simdrop_params* p = &good;
    CHECK(simdrop_forward_2d_f32(nullptr, cols, y.data(), cols, rows, cols, p, nullptr, 0) == SIMDROP_ERR_NULL_POINTER);
    CHECK(simdrop_forward_2d_f32(x.data(), cols, nullptr, cols, rows, cols, p, nullptr, 0) == SIMDROP_ERR_NULL_POINTER);
    CHECK(simdrop_backward_2d_f32(nullptr, cols, y.data(), cols, rows, cols, p) == SIMDROP_ERR_NULL_POINTER);
    CHECK(simdrop_forward_channels_f32(nullptr, y.data(), 2, 4, 5, 1, p, nullptr) == SIMDROP_ERR_NULL_POINTER);
    CHECK(simdrop_forward_channels_f32(x.data(), nullptr, 2, 4, 5, 1, p, nullptr) == SIMDROP_ERR_NULL_POINTER);
    CHECK(simdrop_bias_dropout_add_f32(nullptr, bias.data(), residual.data(), y.data(), rows, cols, p, nullptr) ==
          SIMDROP_ERR_NULL_POINTER);
    CHECK(simdrop_bias_dropout_add_f32(x.data(), nullptr, residual.data(), y.data(), rows, cols, p, nullptr) ==
          SIMDROP_ERR_NULL_POINTER);
    CHECK(simdrop_bias_dropout_add_f32(x.data(), bias.data(), nullptr, y.data(), rows, cols, p, nullptr) ==
          SIMDROP_ERR_NULL_POINTER);
    CHECK(simdrop_bias_dropout_add_f32(x.data(), bias.data(), residual.data(), nullptr, rows, cols, p, nullptr) ==
          SIMDROP_ERR_NULL_POINTER);
    CHECK(simdrop_forward_f64(nullptr, yd.data(), n, p, nullptr) == SIMDROP_ERR_NULL_POINTER);
    CHECK(simdrop_backward_f64(xd.data(), nullptr, n, p) == SIMDROP_ERR_NULL_POINTER);
    CHECK(simdrop_forward_bf16(xh.data(), nullptr, n, p, nullptr) == SIMDROP_ERR_NULL_POINTER);
    CHECK(simdrop_backward_bf16(nullptr, yh.data(), n, p) == SIMDROP_ERR_NULL_POINTER);
    CHECK(simdrop_forward_f16(nullptr, yh.data(), n, p, nullptr) == SIMDROP_ERR_NULL_POINTER);
    CHECK(simdrop_backward_f16(xh.data(), nullptr, n, p) == SIMDROP_ERR_NULL_POINTER);
    unchanged();
    CHECK(simdrop_forward_2d_f32(nullptr, 5, nullptr, 5, 0, 5, p, nullptr, 0) == SIMDROP_OK);
    CHECK(simdrop_forward_2d_f32(nullptr, 0, nullptr, 0, 5, 0, p, nullptr, 0) == SIMDROP_OK);
    CHECK(simdrop_backward_2d_f32(nullptr, 0, nullptr, 0, 0, 0, p) == SIMDROP_OK);
    CHECK(simdrop_forward_channels_f32(nullptr, nullptr, 0, 4, 5, 0, p, nullptr) == SIMDROP_OK);
    CHECK(simdrop_forward_channels_f32(nullptr, nullptr, 3, 4, 0, 0, p, nullptr) == SIMDROP_OK);
    CHECK(simdrop_bias_dropout_add_f32(nullptr, nullptr, nullptr, nullptr, 0, 5, p, nullptr) == SIMDROP_OK);
    CHECK(simdrop_forward_f64(nullptr, nullptr, 0, p, nullptr) == SIMDROP_OK);
    CHECK(simdrop_backward_bf16(nullptr, nullptr, 0, p) == SIMDROP_OK);
    CHECK(simdrop_forward_f16(nullptr, nullptr, 0, p, nullptr) == SIMDROP_OK);
  }

  SECTION("leading dimensions smaller than the row") {
    const simdrop_params* p = &good;
    CHECK(simdrop_forward_2d_f32(x.data(), cols - 1, y.data(), cols, rows, cols, p, nullptr, 0) ==
          SIMDROP_ERR_LEADING_DIM);
    CHECK(simdrop_forward_2d_f32(x.data(), cols, y.data(), cols - 1, rows, cols, p, nullptr, 0) ==
          SIMDROP_ERR_LEADING_DIM);
    CHECK(simdrop_backward_2d_f32(x.data(), cols, y.data(), 3, rows, cols, p) == SIMDROP_ERR_LEADING_DIM);
    CHECK(simdrop_backward_2d_f32(x.data(), 0, y.data(), cols, rows, cols, p) == SIMDROP_ERR_LEADING_DIM);
    // ldmask < ceil(10 / 8) = 2; ignored without a mask.
    CHECK(simdrop_forward_2d_f32(x.data(), cols, y.data(), cols, rows, cols, p, mask.data(), 1) ==
          SIMDROP_ERR_LEADING_DIM);
    CHECK(simdrop_forward_2d_f32(x.data(), cols, y.data(), cols, rows, cols, p, mask.data(), 0) ==
          SIMDROP_ERR_LEADING_DIM);
    // Checked even when the call is otherwise empty (rows == 0).
    CHECK(simdrop_forward_2d_f32(x.data(), cols - 1, y.data(), cols, 0, cols, p, nullptr, 0) ==
          SIMDROP_ERR_LEADING_DIM);
    unchanged();
    CHECK(simdrop_forward_2d_f32(x.data(), cols, y.data(), cols, rows, cols, p, nullptr, 0) == SIMDROP_OK);
  }

  SECTION("global index and size overflow") {
    simdrop_params high = good;
    high.offset = UINT64_MAX - 38;  // n = 40 elements need offset + 39 <= 2^64 - 1
    CHECK(simdrop_forward_2d_f32(x.data(), cols, y.data(), cols, rows, cols, &high, nullptr, 0) ==
          SIMDROP_ERR_INDEX_OVERFLOW);
    CHECK(simdrop_backward_2d_f32(x.data(), 12, y.data(), 12, rows, cols, &high) == SIMDROP_ERR_INDEX_OVERFLOW);
    CHECK(simdrop_bias_dropout_add_f32(x.data(), bias.data(), residual.data(), y.data(), rows, cols, &high,
                                       nullptr) == SIMDROP_ERR_INDEX_OVERFLOW);
    CHECK(simdrop_forward_f64(xd.data(), yd.data(), n, &high, nullptr) == SIMDROP_ERR_INDEX_OVERFLOW);
    CHECK(simdrop_backward_f64(xd.data(), yd.data(), n, &high) == SIMDROP_ERR_INDEX_OVERFLOW);
    CHECK(simdrop_forward_bf16(xh.data(), yh.data(), n, &high, nullptr) == SIMDROP_ERR_INDEX_OVERFLOW);
    CHECK(simdrop_forward_f16(xh.data(), yh.data(), n, &high, nullptr) == SIMDROP_ERR_INDEX_OVERFLOW);
    CHECK(simdrop_backward_f16(xh.data(), yh.data(), n, &high) == SIMDROP_ERR_INDEX_OVERFLOW);
    // Channels: offset + batch*channels (8 decisions) overflows.
    high.offset = UINT64_MAX - 6;
    CHECK(simdrop_forward_channels_f32(x.data(), y.data(), 2, 4, 5, 0, &high, nullptr) == SIMDROP_ERR_INDEX_OVERFLOW);
    // Exactly at the end of the index space is fine.
    high.offset = UINT64_MAX - 7;
    std::vector<float> scratch(40);
    CHECK(simdrop_forward_channels_f32(x.data(), scratch.data(), 2, 4, 5, 0, &high, nullptr) == SIMDROP_OK);
    // Size products that wrap around.
    const std::size_t huge = std::numeric_limits<std::size_t>::max() / 2 + 1;
    CHECK(simdrop_forward_2d_f32(x.data(), huge, y.data(), huge, 2, huge, &good, nullptr, 0) ==
          SIMDROP_ERR_INDEX_OVERFLOW);
    CHECK(simdrop_forward_2d_f32(x.data(), huge, y.data(), huge, 3, 2, &good, nullptr, 0) ==
          SIMDROP_ERR_INDEX_OVERFLOW);  // (rows - 1) * ld overflows
    CHECK(simdrop_forward_2d_f32(x.data(), huge / 2, y.data(), huge / 2, 2, 2, &good, nullptr, 0) ==
          SIMDROP_ERR_INDEX_OVERFLOW);  // the byte span overflows
    CHECK(simdrop_forward_channels_f32(x.data(), y.data(), huge, 2, 1, 0, &good, nullptr) ==
          SIMDROP_ERR_INDEX_OVERFLOW);
    CHECK(simdrop_forward_channels_f32(x.data(), y.data(), 2, 2, huge, 1, &good, nullptr) ==
          SIMDROP_ERR_INDEX_OVERFLOW);
    CHECK(simdrop_bias_dropout_add_f32(x.data(), bias.data(), residual.data(), y.data(), huge, 4, &good, nullptr) ==
          SIMDROP_ERR_INDEX_OVERFLOW);
    CHECK(simdrop_forward_f64(xd.data(), yd.data(), huge, &good, nullptr) == SIMDROP_ERR_INDEX_OVERFLOW);
    CHECK(simdrop_forward_f16(xh.data(), yh.data(), huge, &good, nullptr) == SIMDROP_ERR_INDEX_OVERFLOW);
    unchanged();
  }

  SECTION("partial overlaps of input and output, and of the mask with the data") {
    const simdrop_params* p = &good;
    // 2-D: y one element after x; same pointer with another ld; mask inside y.
    CHECK(simdrop_forward_2d_f32(x.data(), cols, x.data() + 1, cols, rows, cols, p, nullptr, 0) == SIMDROP_ERR_OVERLAP);
    CHECK(simdrop_forward_2d_f32(x.data(), cols, x.data(), cols + 1, rows, cols, p, nullptr, 0) == SIMDROP_ERR_OVERLAP);
    CHECK(simdrop_backward_2d_f32(x.data() + 3, 12, x.data(), 12, rows, cols, p) == SIMDROP_ERR_OVERLAP);
    CHECK(simdrop_forward_2d_f32(x.data(), cols, y.data(), cols, rows, cols, p, reinterpret_cast<u8*>(y.data() + 5),
                                 2) == SIMDROP_ERR_OVERLAP);
    CHECK(simdrop_forward_2d_f32(x.data(), cols, y.data(), cols, rows, cols, p, reinterpret_cast<u8*>(x.data() + 39),
                                 2) == SIMDROP_ERR_OVERLAP);
    // Strided views: x's second row would start inside y's span.
    CHECK(simdrop_forward_2d_f32(x.data(), 20, x.data() + 10, 20, 2, 10, p, nullptr, 0) == SIMDROP_ERR_OVERLAP);
    // Channels.
    CHECK(simdrop_forward_channels_f32(x.data(), x.data() + 2, 2, 4, 5, 0, p, nullptr) == SIMDROP_ERR_OVERLAP);
    CHECK(simdrop_forward_channels_f32(x.data(), y.data(), 2, 4, 5, 1, p, reinterpret_cast<u8*>(y.data() + 39)) ==
          SIMDROP_ERR_OVERLAP);
    // Fused: y partially over x or residual, anywhere over bias, mask over any input.
    CHECK(simdrop_bias_dropout_add_f32(x.data(), bias.data(), residual.data(), x.data() + 1, rows, cols, p,
                                       nullptr) == SIMDROP_ERR_OVERLAP);
    CHECK(simdrop_bias_dropout_add_f32(x.data(), bias.data(), y.data() + 1, y.data(), rows, cols, p, nullptr) ==
          SIMDROP_ERR_OVERLAP);
    CHECK(simdrop_bias_dropout_add_f32(x.data(), y.data() + 20, residual.data(), y.data(), rows, cols, p, nullptr) ==
          SIMDROP_ERR_OVERLAP);
    CHECK(simdrop_bias_dropout_add_f32(x.data(), y.data(), residual.data(), y.data(), rows, cols, p, nullptr) ==
          SIMDROP_ERR_OVERLAP);
    CHECK(simdrop_bias_dropout_add_f32(x.data(), bias.data(), residual.data(), y.data(), rows, cols, p,
                                       reinterpret_cast<u8*>(bias.data() + 1)) == SIMDROP_ERR_OVERLAP);
    CHECK(simdrop_bias_dropout_add_f32(x.data(), bias.data(), residual.data(), y.data(), rows, cols, p,
                                       reinterpret_cast<u8*>(residual.data() + 30)) == SIMDROP_ERR_OVERLAP);
    // Other types.
    CHECK(simdrop_forward_f64(xd.data(), xd.data() + 1, n - 1, p, nullptr) == SIMDROP_ERR_OVERLAP);
    CHECK(simdrop_backward_f64(xd.data() + 1, xd.data(), n - 1, p) == SIMDROP_ERR_OVERLAP);
    CHECK(simdrop_forward_f64(xd.data(), yd.data(), n, p, reinterpret_cast<u8*>(yd.data() + 3)) == SIMDROP_ERR_OVERLAP);
    CHECK(simdrop_forward_bf16(xh.data(), xh.data() + 1, n, p, nullptr) == SIMDROP_ERR_OVERLAP);
    CHECK(simdrop_forward_f16(xh.data(), yh.data(), n, p, reinterpret_cast<u8*>(yh.data() + n - 1)) ==
          SIMDROP_ERR_OVERLAP);
    CHECK(simdrop_backward_f16(xh.data() + 2, xh.data(), n, p) == SIMDROP_ERR_OVERLAP);
    CHECK(simdrop_backward_bf16(xh.data(), xh.data() + 7, n, p) == SIMDROP_ERR_OVERLAP);
    unchanged();
  }

  SECTION("channels_last must be 0 or 1") {
    CHECK(simdrop_forward_channels_f32(x.data(), y.data(), 2, 4, 5, 2, &good, nullptr) == SIMDROP_ERR_ARGUMENT);
    CHECK(simdrop_forward_channels_f32(x.data(), y.data(), 2, 4, 5, -1, &good, mask.data()) == SIMDROP_ERR_ARGUMENT);
    unchanged();
  }
}

TEST_CASE("2-D calls leave the gaps between rows (ld > cols, ldmask > row bytes) untouched", "[extensions][2d]") {
  const std::size_t rows = 5, cols = 11, ld = 16, ldmask = 4;
  const simdrop_params p = make_params(0.6f, 8, 9, 10, SIMDROP_XOSHIRO128PP, 16);
  for_each_isa_and_threads([&](const std::string&, int) {
    std::vector<float> x(rows * ld, 2.0f), y(rows * ld, -7.0f);
    std::vector<u8> mask(rows * ldmask, 0xEE);
    REQUIRE(simdrop_forward_2d_f32(x.data(), ld, y.data(), ld, rows, cols, &p, mask.data(), ldmask) == SIMDROP_OK);
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t c = cols; c < ld; ++c) REQUIRE(y[r * ld + c] == -7.0f);
      for (std::size_t b = 2; b < ldmask; ++b) REQUIRE(mask[r * ldmask + b] == 0xEE);
      REQUIRE((mask[r * ldmask + 1] >> 3) == 0);  // unused bits of each row's last byte are 0
    }
  });
}

}  // namespace
