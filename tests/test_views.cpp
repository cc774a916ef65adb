// Views with their own index row stride (issue 12): element (r, c) has global
// index offset + r * index_ld + c, in every element type, with and without a
// mask, the regenerating backward and the mask alone.
//
// Each call is checked on every implementation this CPU runs and at 1, 2 and
// 3 threads against
//  - the oracle (support/oracle.hpp): every decision and mask bit, and for f32
//    and f64 every value (x * s in float, x * 2^bits / T in double);
//  - the 1-D call of the same element type on each row at offset + r *
//    index_ld (bf16 and f16 values, whose rounding test_extensions.cpp checks
//    on all 65,536 inputs);
//  - the padding between rows, which must stay as it was;
// and the use it exists for: a tensor cut into column shards, each shard
// computed with its own view call, equals the whole tensor computed at once.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "simdrop/simdrop.h"
#include "support/implementations.hpp"
#include "support/oracle.hpp"
#include "support/params.hpp"
#include "support/util.hpp"

namespace {

using simdrop_test::all_generator_widths;
using simdrop_test::generator_width;
using u16 = std::uint16_t;
using u64 = std::uint64_t;

struct view_shape {
  size_t rows, cols;
  u64 index_ld;
  size_t pad;  // data leading dimension - cols
};

std::vector<view_shape> shapes() {
  std::vector<view_shape> out = {
      {1, 1, 1, 0},     {3, 7, 7, 1},       {5, 7, 100, 3},    {17, 33, 100, 0},  {4, 100, 300, 5},
      {2, 256, 1024, 0}, {3, 300, 4096 + 3, 7}, {64, 5, 4099, 2}, {9, 64, 64, 32}, {6, 32, 96, 0},
  };
#if !defined(SIMDROP_TEST_REDUCED)
  out.push_back({40, 300, 1000, 1});
  out.push_back({130, 48, 48 * 3, 0});
#endif
  return out;
}

const u64 offsets[] = {0, 5, (u64(1) << 32) - 37};

// A parameter set for a view starting at `offset`.
simdrop_params view_params(const generator_width& gw, u64 offset, float keep_prob = 0.7f) {
  return simdrop_test::make_params(gw, keep_prob, 0xBEEF0000ull + offset, 21, offset);
}

// One element type's calls.
template <class T>
struct calls;
template <>
struct calls<float> {
  static constexpr auto view = simdrop_forward_view_f32;
  static constexpr auto back = simdrop_backward_view_f32;
  static int flat(const float* x, float* y, size_t n, const simdrop_params* p, uint8_t* m) {
    return simdrop_forward_f32(x, y, n, p, m);
  }
};
template <>
struct calls<double> {
  static constexpr auto view = simdrop_forward_view_f64;
  static constexpr auto back = simdrop_backward_view_f64;
  static constexpr auto flat = simdrop_forward_f64;
};
struct bf16_calls {
  static constexpr auto view = simdrop_forward_view_bf16;
  static constexpr auto back = simdrop_backward_view_bf16;
  static constexpr auto flat = simdrop_forward_bf16;
};
struct f16_calls {
  static constexpr auto view = simdrop_forward_view_f16;
  static constexpr auto back = simdrop_backward_view_f16;
  static constexpr auto flat = simdrop_forward_f16;
};

template <class T>
std::vector<T> random_values(size_t n, u64 seed) {
  simdrop_test::test_rng rng(seed);
  std::vector<T> v(n);
  if constexpr (sizeof(T) == 2) {
    for (T& e : v) e = T(rng.next_u32());
  } else {
    const std::vector<float> f = simdrop_test::test_inputs(n, seed);
    for (size_t i = 0; i < n; ++i) v[i] = T(f[i]);
  }
  return v;
}

template <class T>
u64 bits_of(T v) {
  u64 b = 0;
  std::memcpy(&b, &v, sizeof v);
  return b;
}

// The view call, its backward and the mask view checked for one shape and
// parameter set. `Calls` gives the element type's functions.
template <class T, class Calls>
void check_view(const simdrop_params& p, const view_shape& sh, bool with_mask) {
  const size_t ld = sh.cols + sh.pad, span = (sh.rows - 1) * ld + sh.cols;
  const size_t ldmask = (sh.cols + 7) / 8 + 2;
  const std::vector<T> x = random_values<T>(span, p.seed ^ sh.cols);
  const T filler = T(0x55);
  std::vector<T> y(span, filler);
  std::vector<uint8_t> mask(with_mask ? (sh.rows - 1) * ldmask + (sh.cols + 7) / 8 : 0, 0xA5);
  REQUIRE(Calls::view(x.data(), ld, y.data(), ld, sh.rows, sh.cols, sh.index_ld, &p,
                      with_mask ? mask.data() : nullptr, ldmask) == SIMDROP_OK);

  const double two_bits = oracle::two_to_the(p.threshold_bits);
  const u64 T_value = oracle::threshold(p.keep_prob, p.threshold_bits);
  const float s = oracle::scale(p.keep_prob, p.threshold_bits);
  const double s64 = two_bits / double(T_value);
  for (size_t r = 0; r < sh.rows; ++r) {
    // The same row through the 1-D call, at the row's own offset.
    simdrop_params row = p;
    row.offset = p.offset + r * sh.index_ld;
    std::vector<T> flat(sh.cols);
    std::vector<uint8_t> flat_mask((sh.cols + 7) / 8);
    REQUIRE(Calls::flat(x.data() + r * ld, flat.data(), sh.cols, &row, flat_mask.data()) == SIMDROP_OK);
    for (size_t c = 0; c < sh.cols; ++c) {
      const bool keep = oracle::keep(p, p.offset + r * sh.index_ld + c);
      const T got = y[r * ld + c], xv = x[r * ld + c];
      INFO("row " << r << " column " << c);
      REQUIRE(bits_of(got) == bits_of(flat[c]));
      if constexpr (std::is_same_v<T, float>) REQUIRE(bits_of(got) == bits_of(keep ? xv * s : 0.0f));
      if constexpr (std::is_same_v<T, double>) REQUIRE(bits_of(got) == bits_of(keep ? xv * s64 : 0.0));
      if constexpr (sizeof(T) == 2) {
        if (!keep) REQUIRE(got == 0);
      }
      if (with_mask) REQUIRE(bool((mask[r * ldmask + c / 8] >> (c % 8)) & 1) == keep);
    }
    if (with_mask) {
      REQUIRE(std::equal(flat_mask.begin(), flat_mask.end(), mask.begin() + long(r * ldmask)));
      if (r + 1 < sh.rows)  // the padding bytes of a mask row
        for (size_t b = (sh.cols + 7) / 8; b < ldmask; ++b) REQUIRE(mask[r * ldmask + b] == 0xA5);
    }
    if (r + 1 < sh.rows)
      for (size_t c = sh.cols; c < ld; ++c) REQUIRE(bits_of(y[r * ld + c]) == bits_of(filler));
  }
  // The backward regenerates the forward's decisions: the same bits as the
  // forward without a mask, in place too.
  std::vector<T> dx(span, filler), in_place = x;
  REQUIRE(Calls::back(x.data(), ld, dx.data(), ld, sh.rows, sh.cols, sh.index_ld, &p) == SIMDROP_OK);
  REQUIRE(Calls::back(in_place.data(), ld, in_place.data(), ld, sh.rows, sh.cols, sh.index_ld, &p) == SIMDROP_OK);
  for (size_t r = 0; r < sh.rows; ++r)
    for (size_t c = 0; c < sh.cols; ++c) {
      REQUIRE(bits_of(dx[r * ld + c]) == bits_of(y[r * ld + c]));
      REQUIRE(bits_of(in_place[r * ld + c]) == bits_of(y[r * ld + c]));
    }
}

}  // namespace

TEST_CASE("view calls: element (r, c) at offset + r*index_ld + c, every type, ISA and thread count",
          "[views]") {
  SIMDROP_FOR_EACH_IMPLEMENTATION(isa);
  for (int threads : {1, 2, 3}) {
    REQUIRE(simdrop_set_num_threads(threads) == SIMDROP_OK);
    for (const generator_width& gw : all_generator_widths)
      for (const view_shape& sh : shapes())
        for (u64 offset : offsets)
          for (bool with_mask : {false, true}) {
            INFO("threads " << threads << ", " << gw.name << ", rows " << sh.rows << " cols " << sh.cols
                            << " index_ld " << sh.index_ld << " pad " << sh.pad << ", offset " << offset
                            << (with_mask ? ", mask" : ""));
            const simdrop_params p = view_params(gw, offset);
            check_view<float, calls<float>>(p, sh, with_mask);
            check_view<double, calls<double>>(p, sh, with_mask);
            check_view<u16, bf16_calls>(p, sh, with_mask);
            check_view<u16, f16_calls>(p, sh, with_mask);
          }
  }
  simdrop_set_num_threads(0);
}

TEST_CASE("simdrop_mask_view writes the oracle's decisions and nothing else", "[views]") {
  SIMDROP_FOR_EACH_IMPLEMENTATION(isa);
  for (int threads : {1, 3}) {
    REQUIRE(simdrop_set_num_threads(threads) == SIMDROP_OK);
    for (const generator_width& gw : all_generator_widths)
      for (const view_shape& sh : shapes()) {
        const u64 offset = ~u64(0) - ((sh.rows - 1) * sh.index_ld + sh.cols) + 1;  // ends at 2^64
        const simdrop_params p = view_params(gw, offset);
        const size_t row_bytes = (sh.cols + 7) / 8, ldmask = row_bytes + 3;
        std::vector<uint8_t> mask((sh.rows - 1) * ldmask + row_bytes, 0x5A);
        INFO(gw.name << ", rows " << sh.rows << " cols " << sh.cols << " index_ld " << sh.index_ld);
        REQUIRE(simdrop_mask_view(mask.data(), ldmask, sh.rows, sh.cols, sh.index_ld, &p) == SIMDROP_OK);
        for (size_t r = 0; r < sh.rows; ++r) {
          for (size_t c = 0; c < sh.cols; ++c)
            REQUIRE(bool((mask[r * ldmask + c / 8] >> (c % 8)) & 1) == oracle::keep(p, offset + r * sh.index_ld + c));
          if (sh.cols % 8) REQUIRE((mask[r * ldmask + row_bytes - 1] >> (sh.cols % 8)) == 0);
          if (r + 1 < sh.rows)
            for (size_t b = row_bytes; b < ldmask; ++b) REQUIRE(mask[r * ldmask + b] == 0x5A);
        }
      }
  }
  simdrop_set_num_threads(0);
}

namespace {

// A rows x global_cols tensor at `offset`, cut into `ranks` column shards, each
// computed with its own view call (with or without its mask), assembled, and
// compared with the whole tensor computed at once by the 1-D call.
void check_shards(size_t rows, size_t global_cols, size_t ranks, const simdrop_params& whole_p, bool with_mask) {
  const std::vector<float> x = simdrop_test::test_inputs(rows * global_cols, 99);
  std::vector<float> whole(rows * global_cols);
  std::vector<uint8_t> whole_mask(rows * global_cols / 8 + 1);
  REQUIRE(simdrop_forward_f32(x.data(), whole.data(), rows * global_cols, &whole_p, whole_mask.data()) == SIMDROP_OK);
  std::vector<float> assembled(rows * global_cols, -1.0f);
  for (size_t k = 0; k < ranks; ++k) {
    // Uneven shards: the first ones take the extra columns.
    const size_t base = global_cols / ranks, extra = global_cols % ranks;
    const size_t c0 = k * base + std::min(k, extra), cols = base + (k < extra ? 1 : 0);
    std::vector<float> shard_x(rows * cols), shard_y(rows * cols);
    for (size_t r = 0; r < rows; ++r)
      std::copy_n(x.begin() + long(r * global_cols + c0), cols, shard_x.begin() + long(r * cols));
    simdrop_params p = whole_p;
    p.offset += c0;
    const size_t ldmask = (cols + 7) / 8;
    std::vector<uint8_t> shard_mask(rows * ldmask);
    REQUIRE(simdrop_forward_view_f32(shard_x.data(), cols, shard_y.data(), cols, rows, cols, global_cols, &p,
                                     with_mask ? shard_mask.data() : nullptr, ldmask) == SIMDROP_OK);
    for (size_t r = 0; r < rows; ++r)
      for (size_t c = 0; c < cols; ++c) {
        assembled[r * global_cols + c0 + c] = shard_y[r * cols + c];
        const size_t g = r * global_cols + c0 + c;
        if (with_mask)
          REQUIRE(bool((shard_mask[r * ldmask + c / 8] >> (c % 8)) & 1) == bool((whole_mask[g / 8] >> (g % 8)) & 1));
      }
  }
  REQUIRE(simdrop_test::same_bytes(assembled, whole));
}

}  // namespace

TEST_CASE("column shards computed with view calls equal the whole tensor computed at once", "[views][shards]") {
  SIMDROP_FOR_EACH_IMPLEMENTATION(isa);
  for (const generator_width& gw : all_generator_widths)
    for (size_t ranks : {1u, 2u, 3u, 4u, 7u}) {
      INFO(gw.name << ", " << ranks << " column shards");
      check_shards(37, 100, ranks, view_params(gw, 12345), true);
    }
}

TEST_CASE("column shards of whole Philox groups (one pass over the rows) equal the whole tensor",
          "[views][shards]") {
  // Shards of 256 and 512 columns of 1024 at offsets that are multiples of a
  // Philox group's 256 elements (and one that is not), without a mask (one
  // pass over the rows, every ISA and 1-3 threads) and with one (row by row).
  simdrop_test::for_each_isa_and_threads([](const std::string&, int threads) {
    for (const generator_width& gw : all_generator_widths)
      for (size_t ranks : {2u, 4u})
        for (u64 offset : {u64(0), u64(256) * 1001, u64(3) << 40, u64(64)})
          for (bool with_mask : {false, true}) {
            INFO(gw.name << ", " << ranks << " column shards, offset " << offset << (with_mask ? ", mask" : ""));
            check_shards(threads == 1 ? 9 : 300, 1024, ranks, view_params(gw, offset), with_mask);
          }
  });
}

TEST_CASE("view calls reject a short index_ld, an index past 2^64 and overlap, writing nothing", "[views][errors]") {
  const simdrop_params p = view_params(all_generator_widths[0], 0);
  std::vector<float> x(64, 1.0f), y(64, 7.0f);
  std::vector<double> xd(64, 1.0), yd(64, 7.0);
  std::vector<uint16_t> xh(64, 0x3C00), yh(64, 0x1234);
  std::vector<uint8_t> mask(16, 0xEE);
  auto unchanged = [&] {
    return std::all_of(y.begin(), y.end(), [](float v) { return v == 7.0f; }) &&
           std::all_of(yd.begin(), yd.end(), [](double v) { return v == 7.0; }) &&
           std::all_of(yh.begin(), yh.end(), [](uint16_t v) { return v == 0x1234; }) &&
           std::all_of(mask.begin(), mask.end(), [](uint8_t v) { return v == 0xEE; });
  };
  // index_ld < cols.
  CHECK(simdrop_forward_view_f32(x.data(), 8, y.data(), 8, 4, 8, 7, &p, nullptr, 0) == SIMDROP_ERR_LEADING_DIM);
  CHECK(simdrop_backward_view_f64(xd.data(), 8, yd.data(), 8, 4, 8, 7, &p) == SIMDROP_ERR_LEADING_DIM);
  CHECK(simdrop_forward_view_bf16(xh.data(), 8, yh.data(), 8, 4, 8, 0, &p, nullptr, 0) == SIMDROP_ERR_LEADING_DIM);
  CHECK(simdrop_mask_view(mask.data(), 1, 4, 8, 7, &p) == SIMDROP_ERR_LEADING_DIM);
  // offset + (rows - 1) * index_ld + cols past 2^64, and (rows - 1) * index_ld past 2^64.
  simdrop_params high = p;
  // The last index is offset + 3 * 1000 + 7: 2^64 here, one past the last that exists.
  high.offset = ~u64(0) - 3 * 1000 - 6;
  CHECK(simdrop_forward_view_f16(xh.data(), 8, yh.data(), 8, 4, 8, 1000, &high, nullptr, 0) ==
        SIMDROP_ERR_INDEX_OVERFLOW);
  CHECK(simdrop_forward_view_f32(x.data(), 8, y.data(), 8, 4, 8, ~u64(0) / 2, &p, nullptr, 0) ==
        SIMDROP_ERR_INDEX_OVERFLOW);
  CHECK(simdrop_mask_view(mask.data(), 1, 4, 8, ~u64(0) / 2, &p) == SIMDROP_ERR_INDEX_OVERFLOW);
  high.offset = ~u64(0) - 3 * 1000 - 7;  // the last index is 2^64 - 1: valid
  std::vector<uint16_t> ok(4 * 8);
  CHECK(simdrop_forward_view_f16(xh.data(), 8, ok.data(), 8, 4, 8, 1000, &high, nullptr, 0) == SIMDROP_OK);
  // Overlap of input and output that is not the very same view.
  CHECK(simdrop_forward_view_f32(x.data(), 8, x.data() + 4, 8, 4, 8, 8, &p, nullptr, 0) == SIMDROP_ERR_OVERLAP);
  CHECK(simdrop_forward_view_f32(x.data(), 8, y.data(), 8, 4, 8, 8, &p, reinterpret_cast<uint8_t*>(y.data()), 1) ==
        SIMDROP_ERR_OVERLAP);
  // NULL data with work to do; none without.
  CHECK(simdrop_forward_view_f64(nullptr, 8, yd.data(), 8, 4, 8, 8, &p, nullptr, 0) == SIMDROP_ERR_NULL_POINTER);
  CHECK(simdrop_mask_view(nullptr, 1, 4, 8, 8, &p) == SIMDROP_ERR_NULL_POINTER);
  CHECK(simdrop_mask_view(nullptr, 1, 0, 8, 8, &p) == SIMDROP_OK);
  CHECK(simdrop_forward_view_f32(nullptr, 0, nullptr, 0, 0, 0, 0, &p, nullptr, 0) == SIMDROP_OK);
  CHECK(simdrop_forward_view_f32(x.data(), 8, y.data(), 8, 4, 8, 8, nullptr, nullptr, 0) == SIMDROP_ERR_NULL_PARAMS);
  CHECK(unchanged());
}
