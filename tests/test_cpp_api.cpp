// The C++ API (simdrop/simdrop.hpp) against the C API it wraps: every wrapper
// must give the same bytes as the C call (outputs and mask bits), and throw
// simdrop::error with the C call's status -- and write nothing -- for every
// input the C call rejects. The contract itself is tested elsewhere against
// the oracle; here the C API is the reference.
#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "simdrop/simdrop.h"
#include "simdrop/simdrop.hpp"
#include "support/params.hpp"
#include "support/util.hpp"

namespace {

using u8 = std::uint8_t;
using u16 = std::uint16_t;
using u32 = std::uint32_t;
using u64 = std::uint64_t;

constexpr u8 poison = 0xA5;  // prefilled into every output: an unwritten byte shows

// ------------------------------------------------------------ compile-time

static_assert(std::is_base_of<std::invalid_argument, simdrop::error>::value, "error is an invalid_argument");
static_assert(static_cast<int>(simdrop::generator::philox4x32_10) == SIMDROP_PHILOX4X32_10, "enum values");
static_assert(static_cast<int>(simdrop::generator::xoshiro128pp) == SIMDROP_XOSHIRO128PP, "enum values");
static_assert(simdrop::mask_bytes(0) == 0 && simdrop::mask_bytes(1) == 1 && simdrop::mask_bytes(8) == 1 &&
                  simdrop::mask_bytes(9) == 2 && simdrop::mask_bytes(SIZE_MAX) == SIZE_MAX / 8 + 1,
              "mask_bytes");

// The container overloads accept mutable float buffers as outputs, and nothing else.
template <class In, class Out, class = void>
struct can_forward : std::false_type {};
template <class In, class Out>
struct can_forward<In, Out,
                   std::void_t<decltype(simdrop::forward(std::declval<const In&>(), std::declval<Out&>(),
                                                         std::declval<const simdrop::params&>()))>>
    : std::true_type {};
static_assert(can_forward<std::vector<float>, std::vector<float>>::value, "vector -> vector");
static_assert(can_forward<std::array<float, 3>, float[3]>::value, "array -> C array");
static_assert(can_forward<std::vector<double>, std::vector<double>>::value, "f64 vectors");
static_assert(!can_forward<std::vector<float>, const std::vector<float>>::value, "const output rejected");
static_assert(!can_forward<std::vector<float>, std::vector<double>>::value, "mixed types rejected");
static_assert(!can_forward<std::vector<int>, std::vector<int>>::value, "int rejected");

// ----------------------------------------------------------------- helpers

template <class T>
std::vector<T> poisoned(std::size_t n) {
  std::vector<T> v(n);
  if (n) std::memset(v.data(), poison, n * sizeof(T));
  return v;
}


// Inputs with some NaNs, infinities and signed zeros among ordinary values.
std::vector<float> random_floats(std::size_t n, u32 seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> value(-10.0f, 10.0f);
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    switch (rng() % 64) {
      case 0: v[i] = std::numeric_limits<float>::quiet_NaN(); break;
      case 1: v[i] = -std::numeric_limits<float>::infinity(); break;
      case 2: v[i] = -0.0f; break;
      default: v[i] = value(rng);
    }
  }
  return v;
}

std::vector<double> random_doubles(std::size_t n, u32 seed) {
  const std::vector<float> f = random_floats(n, seed);
  std::vector<double> d(n);
  for (std::size_t i = 0; i < n; ++i) d[i] = double(f[i]) * (1.0 + 1e-9);
  return d;
}

std::vector<u16> random_halves(std::size_t n, u32 seed) {
  std::mt19937 rng(seed);
  std::vector<u16> v(n);
  for (auto& h : v) h = u16(rng());
  return v;
}

std::vector<u8> random_bytes(std::size_t n, u32 seed) {
  std::mt19937 rng(seed);
  std::vector<u8> v(n);
  for (auto& b : v) b = u8(rng());
  return v;
}

using simdrop_test::make_params;
using simdrop_test::same_bytes;

// A spread of valid parameter sets: both generators, both widths, keep_prob
// 0 and 1, offsets starting mid-group, mid-tile and near 2^64.
std::vector<simdrop_params> valid_params() {
  std::vector<simdrop_params> all;
  const simdrop_generator gens[] = {SIMDROP_PHILOX4X32_10, SIMDROP_XOSHIRO128PP};
  const u32 widths[] = {32, 16};
  const float keeps[] = {0.0f, 0.3f, 0.9f, 1.0f};
  const u64 offsets[] = {0, 5, 4093, (u64(1) << 40) + 3, UINT64_MAX - 100000};
  u64 stream = 0;
  for (auto g : gens)
    for (u32 w : widths)
      for (float k : keeps)
        for (u64 o : offsets) {
          all.push_back(make_params(k, 0x1234567890ABCDEFull ^ stream, stream, o, g, w));
          ++stream;
        }
  return all;
}

// Sets that every element-wise C call rejects, with the status it returns.
struct bad_case {
  const char* what;
  simdrop_params p;
};

std::vector<bad_case> bad_params(std::size_t n) {
  const simdrop_params good = make_params(0.5f, 7, 1, 0, SIMDROP_PHILOX4X32_10, 32);
  std::vector<bad_case> cases;
  auto add = [&](const char* what, auto edit) {
    simdrop_params p = good;
    edit(p);
    cases.push_back({what, p});
  };
  add("keep_prob NaN", [](simdrop_params& p) { p.keep_prob = std::numeric_limits<float>::quiet_NaN(); });
  add("keep_prob +inf", [](simdrop_params& p) { p.keep_prob = std::numeric_limits<float>::infinity(); });
  add("keep_prob -inf", [](simdrop_params& p) { p.keep_prob = -std::numeric_limits<float>::infinity(); });
  add("keep_prob < 0", [](simdrop_params& p) { p.keep_prob = -0.25f; });
  add("keep_prob > 1", [](simdrop_params& p) { p.keep_prob = 1.0f + 1e-6f; });
  add("threshold_bits 0", [](simdrop_params& p) { p.threshold_bits = 0; });
  add("threshold_bits 12", [](simdrop_params& p) { p.threshold_bits = 12; });
  add("threshold_bits 64", [](simdrop_params& p) { p.threshold_bits = 64; });
  // Written as its integer value: a C caller can hand over any bit pattern.
  add("generator 2", [](simdrop_params& p) {
    const unsigned v = 2;
    std::memcpy(&p.generator, &v, sizeof v);
  });
  add("offset + n > 2^64", [n](simdrop_params& p) { p.offset = UINT64_MAX - (n - 2); });
  add("NaN keep_prob and bad bits", [](simdrop_params& p) {
    p.keep_prob = std::numeric_limits<float>::quiet_NaN();
    p.threshold_bits = 7;
  });
  return cases;
}

// Runs the C call and the C++ call on separate copies of the same buffers.
// Expects: the C call fails, the C++ call throws simdrop::error with the same
// status and message, and neither wrote anything.
template <class Buffers>
void expect_same_rejection(const Buffers& initial, const std::function<int(Buffers&)>& c_call,
                           const std::function<void(Buffers&)>& cpp_call) {
  Buffers c_side = initial, cpp_side = initial;
  const int status = c_call(c_side);
  REQUIRE(status != SIMDROP_OK);
  int thrown = SIMDROP_OK;
  std::string message;
  try {
    cpp_call(cpp_side);
  } catch (const simdrop::error& e) {
    thrown = e.status();
    message = e.what();
  }
  CHECK(thrown == status);
  CHECK(message == simdrop_status_string(status));
  CHECK(c_side == initial);
  CHECK(cpp_side == initial);
}

// Restores the implementation and thread count a test found, whatever happens.
struct global_state_guard {
  std::string isa = simdrop::active_isa();
  int threads = simdrop::num_threads();
  ~global_state_guard() {
    simdrop_set_isa(isa.c_str());
    simdrop_set_num_threads(threads);
  }
};

// Every implementation this machine can run (the wrappers must agree with C on each).
std::vector<std::string> runnable_isas() {
  std::vector<std::string> names;
  for (const std::string& name : simdrop::isa_names())
    if (simdrop::isa_supported(name)) names.push_back(name);
  return names;
}

const std::size_t sizes[] = {0, 1, 7, 8, 9, 17, 63, 65, 1000, 4097, 9001};

}  // namespace

// ================================================================ vocabulary

TEST_CASE("cpp api: simdrop::error carries the status and simdrop_status_string's message", "[cpp_api]") {
  for (int status = 1; status <= SIMDROP_ERR_ARGUMENT + 1; ++status) {
    const simdrop::error e(status);
    CHECK(e.status() == status);
    CHECK(std::string(e.what()) == simdrop_status_string(status));
    CHECK(simdrop::status_string(status) == simdrop_status_string(status));
    const std::invalid_argument& base = e;
    CHECK(std::string(base.what()) == simdrop_status_string(status));
  }
  CHECK_NOTHROW(simdrop::check(SIMDROP_OK));
  CHECK_THROWS_AS(simdrop::check(SIMDROP_ERR_KEEP_PROB), simdrop::error);
}

TEST_CASE("cpp api: params converts to and from simdrop_params", "[cpp_api]") {
  const simdrop::params defaults;
  const simdrop_params c_defaults = simdrop_params_default(1.0f, 0);
  const simdrop_params converted = defaults;
  CHECK(converted.keep_prob == c_defaults.keep_prob);
  CHECK(converted.seed == c_defaults.seed);
  CHECK(converted.stream == c_defaults.stream);
  CHECK(converted.offset == c_defaults.offset);
  CHECK(converted.generator == c_defaults.generator);
  CHECK(converted.threshold_bits == c_defaults.threshold_bits);

  const simdrop_params from_ctor = simdrop::params(0.7f, 42).c();
  const simdrop_params from_c = simdrop_params_default(0.7f, 42);
  CHECK(from_ctor.keep_prob == from_c.keep_prob);
  CHECK(from_ctor.seed == from_c.seed);
  CHECK(from_ctor.stream == from_c.stream);
  CHECK(from_ctor.offset == from_c.offset);
  CHECK(from_ctor.generator == from_c.generator);
  CHECK(from_ctor.threshold_bits == from_c.threshold_bits);

  const simdrop_params built = simdrop::params()
                                   .with_keep_prob(0.25f)
                                   .with_seed(11)
                                   .with_stream(12)
                                   .with_offset(13)
                                   .with_generator(simdrop::generator::xoshiro128pp)
                                   .with_threshold_bits(16)
                                   .c();
  CHECK(built.keep_prob == 0.25f);
  CHECK(built.seed == 11);
  CHECK(built.stream == 12);
  CHECK(built.offset == 13);
  CHECK(built.generator == SIMDROP_XOSHIRO128PP);
  CHECK(built.threshold_bits == 16);

  const simdrop::params back = built;  // from C
  CHECK(back.keep_prob == 0.25f);
  CHECK(back.seed == 11);
  CHECK(back.stream == 12);
  CHECK(back.offset == 13);
  CHECK(back.generator == simdrop::generator::xoshiro128pp);
  CHECK(back.threshold_bits == 16);
}

// ======================================================== same bytes as C

TEST_CASE("cpp api: f32 wrappers give the C API's bytes", "[cpp_api]") {
  global_state_guard guard;
  const std::vector<simdrop_params> all = valid_params();
  for (const std::string& isa : runnable_isas()) {
    simdrop::set_isa(isa);
    for (std::size_t n : sizes) {
      for (std::size_t k = 0; k < all.size(); ++k) {
        const simdrop_params& cp = all[k];
        const simdrop::params p = cp;
        INFO("isa " << isa << ", n " << n << ", case " << k << ", keep " << cp.keep_prob << ", bits "
                    << cp.threshold_bits << ", generator " << int(cp.generator) << ", offset " << cp.offset);
        const std::vector<float> x = random_floats(n, u32(n * 131 + k));
        const std::size_t nb = simdrop::mask_bytes(n);

        // forward, with and without a mask, pointer and container forms
        std::vector<float> y_c = poisoned<float>(n), y_cpp = poisoned<float>(n), y_cont = poisoned<float>(n);
        std::vector<u8> m_c = poisoned<u8>(nb), m_cpp = poisoned<u8>(nb), m_cont = poisoned<u8>(nb);
        REQUIRE(simdrop_forward_f32(x.data(), y_c.data(), n, &cp, m_c.data()) == SIMDROP_OK);
        simdrop::forward(x.data(), y_cpp.data(), n, p, m_cpp.data());
        simdrop::forward(x, y_cont, p, m_cont);
        CHECK(same_bytes(y_c, y_cpp));
        CHECK(same_bytes(m_c, m_cpp));
        CHECK(same_bytes(y_c, y_cont));
        CHECK(same_bytes(m_c, m_cont));

        std::vector<float> y_nomask = poisoned<float>(n), y_nomask_cont = poisoned<float>(n);
        simdrop::forward(x.data(), y_nomask.data(), n, p);
        simdrop::forward(x, y_nomask_cont, p);
        CHECK(same_bytes(y_c, y_nomask));
        CHECK(same_bytes(y_c, y_nomask_cont));

        // in place
        std::vector<float> in_place = x;
        simdrop::forward(in_place, in_place, p);
        CHECK(same_bytes(y_c, in_place));

        // backward by regeneration
        std::vector<float> dx_c = poisoned<float>(n), dx_cpp = poisoned<float>(n), dx_cont = poisoned<float>(n);
        REQUIRE(simdrop_backward_f32(x.data(), dx_c.data(), n, &cp) == SIMDROP_OK);
        simdrop::backward(x.data(), dx_cpp.data(), n, p);
        simdrop::backward(x, dx_cont, p);
        CHECK(same_bytes(dx_c, dx_cpp));
        CHECK(same_bytes(dx_c, dx_cont));

        // backward from a stored mask (an arbitrary one, not only forward's)
        const std::vector<u8> any_mask = random_bytes(nb, u32(k + 1));
        std::vector<float> bm_c = poisoned<float>(n), bm_cpp = poisoned<float>(n), bm_cont = poisoned<float>(n);
        REQUIRE(simdrop_backward_mask_f32(x.data(), any_mask.data(), bm_c.data(), n, &cp) == SIMDROP_OK);
        simdrop::backward_mask(x.data(), any_mask.data(), bm_cpp.data(), n, p);
        simdrop::backward_mask(x, any_mask, bm_cont, p);
        CHECK(same_bytes(bm_c, bm_cpp));
        CHECK(same_bytes(bm_c, bm_cont));

        // mask only
        std::vector<u8> mo_c = poisoned<u8>(nb), mo_cpp = poisoned<u8>(nb), mo_cont = poisoned<u8>(nb);
        REQUIRE(simdrop_mask(mo_c.data(), n, &cp) == SIMDROP_OK);
        simdrop::mask(mo_cpp.data(), n, p);
        simdrop::mask(mo_cont, n, p);
        CHECK(same_bytes(mo_c, mo_cpp));
        CHECK(same_bytes(mo_c, mo_cont));
        CHECK(same_bytes(mo_c, m_c));

        // raw words
        std::vector<u32> w_c = poisoned<u32>(n), w_cpp = poisoned<u32>(n), w_cont = poisoned<u32>(n);
        REQUIRE(simdrop_fill_u32(w_c.data(), n, &cp) == SIMDROP_OK);
        simdrop::fill_u32(w_cpp.data(), n, p);
        simdrop::fill_u32(w_cont, p);
        CHECK(same_bytes(w_c, w_cpp));
        CHECK(same_bytes(w_c, w_cont));
      }
    }
  }
}

TEST_CASE("cpp api: std::array, C arrays and simdrop_params are accepted", "[cpp_api]") {
  const simdrop_params cp = make_params(0.6f, 99, 3, 17, SIMDROP_XOSHIRO128PP, 16);
  const std::vector<float> source = random_floats(37, 5);
  std::array<float, 37> x{};
  std::copy(source.begin(), source.end(), x.begin());
  float y[37];
  std::array<u8, 5> m{};
  simdrop::forward(x, y, cp, m);  // a simdrop_params converts implicitly

  std::vector<float> y_c(37);
  std::vector<u8> m_c(5);
  REQUIRE(simdrop_forward_f32(x.data(), y_c.data(), 37, &cp, m_c.data()) == SIMDROP_OK);
  CHECK(std::memcmp(y, y_c.data(), sizeof y) == 0);
  CHECK(std::memcmp(m.data(), m_c.data(), m.size()) == 0);

  // A mask buffer larger than needed is fine; bytes past mask_bytes(n) are untouched.
  std::vector<u8> big = poisoned<u8>(9);
  simdrop::mask(big, 37, cp);
  CHECK(std::memcmp(big.data(), m_c.data(), 5) == 0);
  for (std::size_t i = 5; i < big.size(); ++i) CHECK(big[i] == poison);
}

TEST_CASE("cpp api: philox4x32_10 is the C function", "[cpp_api]") {
  std::mt19937 rng(2024);
  for (int trial = 0; trial < 1000; ++trial) {
    const std::array<u32, 4> ctr{u32(rng()), u32(rng()), u32(rng()), u32(rng())};
    const std::array<u32, 2> key{u32(rng()), u32(rng())};
    u32 expected[4], by_pointer[4];
    simdrop_philox4x32_10(ctr.data(), key.data(), expected);
    simdrop::philox4x32_10(ctr.data(), key.data(), by_pointer);
    const std::array<u32, 4> by_array = simdrop::philox4x32_10(ctr, key);
    CHECK(std::memcmp(expected, by_pointer, sizeof expected) == 0);
    CHECK(std::memcmp(expected, by_array.data(), sizeof expected) == 0);
  }
}

TEST_CASE("cpp api: f64, bf16 and f16 wrappers give the C API's bytes", "[cpp_api]") {
  const std::vector<simdrop_params> all = valid_params();
  for (std::size_t n : {std::size_t(0), std::size_t(1), std::size_t(33), std::size_t(1000)}) {
    for (std::size_t k = 0; k < all.size(); k += 3) {
      const simdrop_params& cp = all[k];
      const simdrop::params p = cp;
      INFO("n " << n << ", case " << k);
      const std::size_t nb = simdrop::mask_bytes(n);

      const std::vector<double> xd = random_doubles(n, u32(k));
      std::vector<double> yd_c = poisoned<double>(n), yd_cpp = poisoned<double>(n), yd_cont = poisoned<double>(n);
      std::vector<u8> md_c = poisoned<u8>(nb), md_cpp = poisoned<u8>(nb), md_cont = poisoned<u8>(nb);
      REQUIRE(simdrop_forward_f64(xd.data(), yd_c.data(), n, &cp, md_c.data()) == SIMDROP_OK);
      simdrop::forward(xd.data(), yd_cpp.data(), n, p, md_cpp.data());
      simdrop::forward(xd, yd_cont, p, md_cont);
      CHECK(same_bytes(yd_c, yd_cpp));
      CHECK(same_bytes(yd_c, yd_cont));
      CHECK(same_bytes(md_c, md_cpp));
      CHECK(same_bytes(md_c, md_cont));
      std::vector<double> dd_c = poisoned<double>(n), dd_cpp = poisoned<double>(n), dd_cont = poisoned<double>(n);
      REQUIRE(simdrop_backward_f64(xd.data(), dd_c.data(), n, &cp) == SIMDROP_OK);
      simdrop::backward(xd.data(), dd_cpp.data(), n, p);
      simdrop::backward(xd, dd_cont, p);
      CHECK(same_bytes(dd_c, dd_cpp));
      CHECK(same_bytes(dd_c, dd_cont));

      const std::vector<u16> xh = random_halves(n, u32(k + 7));
      using forward_c = int (*)(const u16*, u16*, std::size_t, const simdrop_params*, u8*);
      using backward_c = int (*)(const u16*, u16*, std::size_t, const simdrop_params*);
      struct half_case {
        const char* name;
        forward_c c_forward;
        backward_c c_backward;
        void (*cpp_forward)(const u16*, u16*, std::size_t, const simdrop::params&, u8*);
        void (*cpp_backward)(const u16*, u16*, std::size_t, const simdrop::params&);
      };
      const half_case halves[] = {
          {"bf16", simdrop_forward_bf16, simdrop_backward_bf16, simdrop::forward_bf16, simdrop::backward_bf16},
          {"f16", simdrop_forward_f16, simdrop_backward_f16, simdrop::forward_f16, simdrop::backward_f16},
      };
      for (const half_case& h : halves) {
        INFO(h.name);
        std::vector<u16> y_c = poisoned<u16>(n), y_cpp = poisoned<u16>(n);
        std::vector<u8> m_c = poisoned<u8>(nb), m_cpp = poisoned<u8>(nb);
        REQUIRE(h.c_forward(xh.data(), y_c.data(), n, &cp, m_c.data()) == SIMDROP_OK);
        h.cpp_forward(xh.data(), y_cpp.data(), n, p, m_cpp.data());
        CHECK(same_bytes(y_c, y_cpp));
        CHECK(same_bytes(m_c, m_cpp));
        std::vector<u16> d_c = poisoned<u16>(n), d_cpp = poisoned<u16>(n);
        REQUIRE(h.c_backward(xh.data(), d_c.data(), n, &cp) == SIMDROP_OK);
        h.cpp_backward(xh.data(), d_cpp.data(), n, p);
        CHECK(same_bytes(d_c, d_cpp));
      }
      std::vector<u16> yb = poisoned<u16>(n), yf = poisoned<u16>(n), db = poisoned<u16>(n), df = poisoned<u16>(n);
      std::vector<u16> yb_c = poisoned<u16>(n), yf_c = poisoned<u16>(n), db_c = poisoned<u16>(n), df_c = poisoned<u16>(n);
      simdrop::forward_bf16(xh, yb, p);
      simdrop::forward_f16(xh, yf, p);
      simdrop::backward_bf16(xh, db, p);
      simdrop::backward_f16(xh, df, p);
      REQUIRE(simdrop_forward_bf16(xh.data(), yb_c.data(), n, &cp, nullptr) == SIMDROP_OK);
      REQUIRE(simdrop_forward_f16(xh.data(), yf_c.data(), n, &cp, nullptr) == SIMDROP_OK);
      REQUIRE(simdrop_backward_bf16(xh.data(), db_c.data(), n, &cp) == SIMDROP_OK);
      REQUIRE(simdrop_backward_f16(xh.data(), df_c.data(), n, &cp) == SIMDROP_OK);
      CHECK(same_bytes(yb, yb_c));
      CHECK(same_bytes(yf, yf_c));
      CHECK(same_bytes(db, db_c));
      CHECK(same_bytes(df, df_c));
    }
  }
}

TEST_CASE("cpp api: 2-D, channel and bias-dropout-add wrappers give the C API's bytes", "[cpp_api]") {
  const std::vector<simdrop_params> all = valid_params();
  for (std::size_t k = 0; k < all.size(); k += 2) {
    const simdrop_params& cp = all[k];
    const simdrop::params p = cp;
    INFO("case " << k);

    // 2-D views with padded leading dimensions.
    const std::size_t rows = 5, cols = 13, ldx = 16, ldy = 17, ldmask = 3;
    const std::vector<float> x = random_floats(rows * ldx, u32(k));
    std::vector<float> y_c = poisoned<float>(rows * ldy), y_cpp = poisoned<float>(rows * ldy);
    std::vector<u8> m_c = poisoned<u8>(rows * ldmask), m_cpp = poisoned<u8>(rows * ldmask);
    REQUIRE(simdrop_forward_2d_f32(x.data(), ldx, y_c.data(), ldy, rows, cols, &cp, m_c.data(), ldmask) ==
            SIMDROP_OK);
    simdrop::forward_2d(x.data(), ldx, y_cpp.data(), ldy, rows, cols, p, m_cpp.data(), ldmask);
    CHECK(same_bytes(y_c, y_cpp));
    CHECK(same_bytes(m_c, m_cpp));
    std::vector<float> y_nomask_c = poisoned<float>(rows * ldy), y_nomask = poisoned<float>(rows * ldy);
    REQUIRE(simdrop_forward_2d_f32(x.data(), ldx, y_nomask_c.data(), ldy, rows, cols, &cp, nullptr, 0) ==
            SIMDROP_OK);
    simdrop::forward_2d(x.data(), ldx, y_nomask.data(), ldy, rows, cols, p);
    CHECK(same_bytes(y_nomask_c, y_nomask));
    std::vector<float> d_c = poisoned<float>(rows * ldy), d_cpp = poisoned<float>(rows * ldy);
    REQUIRE(simdrop_backward_2d_f32(x.data(), ldx, d_c.data(), ldy, rows, cols, &cp) == SIMDROP_OK);
    simdrop::backward_2d(x.data(), ldx, d_cpp.data(), ldy, rows, cols, p);
    CHECK(same_bytes(d_c, d_cpp));

    // Channel dropout, both layouts.
    const std::size_t batch = 3, channels = 5, spatial = 7, total = batch * channels * spatial;
    const std::vector<float> xc = random_floats(total, u32(k + 3));
    for (int channels_last = 0; channels_last <= 1; ++channels_last) {
      INFO("channels_last " << channels_last);
      const std::size_t nb = simdrop::mask_bytes(batch * channels);
      std::vector<float> yc_c = poisoned<float>(total), yc_cpp = poisoned<float>(total);
      std::vector<u8> mc_c = poisoned<u8>(nb), mc_cpp = poisoned<u8>(nb);
      REQUIRE(simdrop_forward_channels_f32(xc.data(), yc_c.data(), batch, channels, spatial, channels_last, &cp,
                                           mc_c.data()) == SIMDROP_OK);
      simdrop::forward_channels(xc.data(), yc_cpp.data(), batch, channels, spatial, channels_last != 0, p,
                                mc_cpp.data());
      CHECK(same_bytes(yc_c, yc_cpp));
      CHECK(same_bytes(mc_c, mc_cpp));
    }

    // Fused bias + dropout + residual.
    const std::size_t brows = 4, bcols = 9, bn = brows * bcols, bnb = simdrop::mask_bytes(bn);
    const std::vector<float> bx = random_floats(bn, u32(k + 11)), bias = random_floats(bcols, u32(k + 12)),
                             residual = random_floats(bn, u32(k + 13));
    std::vector<float> by_c = poisoned<float>(bn), by_cpp = poisoned<float>(bn);
    std::vector<u8> bm_c = poisoned<u8>(bnb), bm_cpp = poisoned<u8>(bnb);
    REQUIRE(simdrop_bias_dropout_add_f32(bx.data(), bias.data(), residual.data(), by_c.data(), brows, bcols, &cp,
                                         bm_c.data()) == SIMDROP_OK);
    simdrop::bias_dropout_add(bx.data(), bias.data(), residual.data(), by_cpp.data(), brows, bcols, p,
                              bm_cpp.data());
    CHECK(same_bytes(by_c, by_cpp));
    CHECK(same_bytes(bm_c, bm_cpp));
  }
}

// =================================================== same errors as C

TEST_CASE("cpp api: element-wise wrappers throw the C API's status for bad parameters", "[cpp_api]") {
  const std::size_t n = 40, nb = simdrop::mask_bytes(n);
  const std::vector<float> x = random_floats(n, 1);
  const std::vector<double> xd = random_doubles(n, 2);
  const std::vector<u16> xh = random_halves(n, 3);
  const std::vector<u8> stored_mask = random_bytes(nb, 4);
  struct bufs {
    std::vector<float> f;
    std::vector<double> d;
    std::vector<u16> h;
    std::vector<u8> m;
    std::vector<u32> w;
    bool operator==(const bufs& o) const {
      return same_bytes(f, o.f) && same_bytes(d, o.d) && same_bytes(h, o.h) && same_bytes(m, o.m) &&
             same_bytes(w, o.w);
    }
  };
  const bufs initial{poisoned<float>(n), poisoned<double>(n), poisoned<u16>(n), poisoned<u8>(nb),
                     poisoned<u32>(n)};

  for (const bad_case& bad : bad_params(n)) {
    INFO(bad.what);
    const simdrop_params cp = bad.p;
    const simdrop::params p = cp;
    using C = std::function<int(bufs&)>;
    using Cpp = std::function<void(bufs&)>;
    struct op {
      const char* name;
      C c;
      Cpp cpp;
    };
    const op ops[] = {
        {"forward", [&](bufs& b) { return simdrop_forward_f32(x.data(), b.f.data(), n, &cp, b.m.data()); },
         [&](bufs& b) { simdrop::forward(x.data(), b.f.data(), n, p, b.m.data()); }},
        {"forward container", [&](bufs& b) { return simdrop_forward_f32(x.data(), b.f.data(), n, &cp, b.m.data()); },
         [&](bufs& b) { simdrop::forward(x, b.f, p, b.m); }},
        {"forward no mask", [&](bufs& b) { return simdrop_forward_f32(x.data(), b.f.data(), n, &cp, nullptr); },
         [&](bufs& b) { simdrop::forward(x, b.f, p); }},
        {"backward", [&](bufs& b) { return simdrop_backward_f32(x.data(), b.f.data(), n, &cp); },
         [&](bufs& b) { simdrop::backward(x.data(), b.f.data(), n, p); }},
        {"backward container", [&](bufs& b) { return simdrop_backward_f32(x.data(), b.f.data(), n, &cp); },
         [&](bufs& b) { simdrop::backward(x, b.f, p); }},
        {"backward_mask",
         [&](bufs& b) { return simdrop_backward_mask_f32(x.data(), stored_mask.data(), b.f.data(), n, &cp); },
         [&](bufs& b) { simdrop::backward_mask(x.data(), stored_mask.data(), b.f.data(), n, p); }},
        {"backward_mask container",
         [&](bufs& b) { return simdrop_backward_mask_f32(x.data(), stored_mask.data(), b.f.data(), n, &cp); },
         [&](bufs& b) { simdrop::backward_mask(x, stored_mask, b.f, p); }},
        {"mask", [&](bufs& b) { return simdrop_mask(b.m.data(), n, &cp); },
         [&](bufs& b) { simdrop::mask(b.m.data(), n, p); }},
        {"mask container", [&](bufs& b) { return simdrop_mask(b.m.data(), n, &cp); },
         [&](bufs& b) { simdrop::mask(b.m, n, p); }},
        {"fill_u32", [&](bufs& b) { return simdrop_fill_u32(b.w.data(), n, &cp); },
         [&](bufs& b) { simdrop::fill_u32(b.w.data(), n, p); }},
        {"fill_u32 container", [&](bufs& b) { return simdrop_fill_u32(b.w.data(), n, &cp); },
         [&](bufs& b) { simdrop::fill_u32(b.w, p); }},
        {"forward f64", [&](bufs& b) { return simdrop_forward_f64(xd.data(), b.d.data(), n, &cp, b.m.data()); },
         [&](bufs& b) { simdrop::forward(xd, b.d, p, b.m); }},
        {"backward f64", [&](bufs& b) { return simdrop_backward_f64(xd.data(), b.d.data(), n, &cp); },
         [&](bufs& b) { simdrop::backward(xd.data(), b.d.data(), n, p); }},
        {"forward bf16", [&](bufs& b) { return simdrop_forward_bf16(xh.data(), b.h.data(), n, &cp, b.m.data()); },
         [&](bufs& b) { simdrop::forward_bf16(xh.data(), b.h.data(), n, p, b.m.data()); }},
        {"backward bf16", [&](bufs& b) { return simdrop_backward_bf16(xh.data(), b.h.data(), n, &cp); },
         [&](bufs& b) { simdrop::backward_bf16(xh, b.h, p); }},
        {"forward f16", [&](bufs& b) { return simdrop_forward_f16(xh.data(), b.h.data(), n, &cp, b.m.data()); },
         [&](bufs& b) { simdrop::forward_f16(xh.data(), b.h.data(), n, p, b.m.data()); }},
        {"backward f16", [&](bufs& b) { return simdrop_backward_f16(xh.data(), b.h.data(), n, &cp); },
         [&](bufs& b) { simdrop::backward_f16(xh, b.h, p); }},
    };
    for (const op& o : ops) {
      INFO(o.name);
      expect_same_rejection<bufs>(initial, o.c, o.cpp);
    }
  }
}

TEST_CASE("cpp api: a generator outside the enum reaches the C API and is rejected there", "[cpp_api]") {
  const simdrop::params p = simdrop::params(0.5f, 1).with_generator(static_cast<simdrop::generator>(7));
  const simdrop_params cp = p.c();
  std::vector<float> x(9, 1.0f), y_c = poisoned<float>(9), y = poisoned<float>(9);
  const int status = simdrop_forward_f32(x.data(), y_c.data(), 9, &cp, nullptr);
  CHECK(status == SIMDROP_ERR_GENERATOR);
  try {
    simdrop::forward(x, y, p);
    FAIL("no exception");
  } catch (const simdrop::error& e) {
    CHECK(e.status() == status);
  }
  CHECK(same_bytes(y, poisoned<float>(9)));
}

TEST_CASE("cpp api: wrappers throw the C API's status for bad pointers, overlap and layout", "[cpp_api]") {
  const simdrop::params p(0.5f, 3);
  const simdrop_params cp = p.c();
  const std::size_t n = 64;
  std::vector<float> buffer = random_floats(2 * n, 9);
  const std::vector<float> snapshot = buffer;
  std::vector<u8> mask_buffer = poisoned<u8>(16);

  auto expect = [&](int expected, const std::function<int()>& c_call, const std::function<void()>& cpp_call) {
    const int status = c_call();
    CHECK(status == expected);
    int thrown = SIMDROP_OK;
    try {
      cpp_call();
    } catch (const simdrop::error& e) {
      thrown = e.status();
    }
    CHECK(thrown == expected);
    CHECK(same_bytes(buffer, snapshot));
    CHECK(same_bytes(mask_buffer, poisoned<u8>(16)));
  };
  float* base = buffer.data();
  SECTION("NULL data with n > 0") {
    expect(SIMDROP_ERR_NULL_POINTER, [&] { return simdrop_forward_f32(nullptr, base, n, &cp, nullptr); },
           [&] { simdrop::forward(nullptr, base, n, p); });
    expect(SIMDROP_ERR_NULL_POINTER, [&] { return simdrop_forward_f32(base, nullptr, n, &cp, nullptr); },
           [&] { simdrop::forward(base, nullptr, n, p); });
    expect(SIMDROP_ERR_NULL_POINTER, [&] { return simdrop_backward_f32(nullptr, base, n, &cp); },
           [&] { simdrop::backward(nullptr, base, n, p); });
    expect(SIMDROP_ERR_NULL_POINTER,
           [&] { return simdrop_backward_mask_f32(base, nullptr, base + n, n, &cp); },
           [&] { simdrop::backward_mask(base, nullptr, base + n, n, p); });
    expect(SIMDROP_ERR_NULL_POINTER, [&] { return simdrop_mask(nullptr, n, &cp); },
           [&] { simdrop::mask(nullptr, n, p); });
    expect(SIMDROP_ERR_NULL_POINTER, [&] { return simdrop_fill_u32(nullptr, n, &cp); },
           [&] { simdrop::fill_u32(nullptr, n, p); });
  }
  SECTION("partial overlap") {
    expect(SIMDROP_ERR_OVERLAP, [&] { return simdrop_forward_f32(base, base + 1, n, &cp, nullptr); },
           [&] { simdrop::forward(base, base + 1, n, p); });
    expect(SIMDROP_ERR_OVERLAP, [&] { return simdrop_backward_f32(base + 3, base, n, &cp); },
           [&] { simdrop::backward(base + 3, base, n, p); });
    u8* inside = reinterpret_cast<u8*>(base + n / 2);
    expect(SIMDROP_ERR_OVERLAP, [&] { return simdrop_forward_f32(base, base + n, n, &cp, inside); },
           [&] { simdrop::forward(base, base + n, n, p, inside); });
  }
  SECTION("n = 0 is a no-op even with NULL pointers") {
    CHECK_NOTHROW(simdrop::forward(static_cast<const float*>(nullptr), nullptr, 0, p));
    CHECK_NOTHROW(simdrop::backward(static_cast<const float*>(nullptr), nullptr, 0, p));
    CHECK_NOTHROW(simdrop::backward_mask(nullptr, nullptr, nullptr, 0, p));
    CHECK_NOTHROW(simdrop::mask(nullptr, 0, p));
    CHECK_NOTHROW(simdrop::fill_u32(nullptr, 0, p));
    std::vector<float> empty;
    CHECK_NOTHROW(simdrop::forward(empty, empty, p));
  }
  SECTION("2-D leading dimension smaller than the row") {
    expect(SIMDROP_ERR_LEADING_DIM,
           [&] { return simdrop_forward_2d_f32(base, 7, base + n, 8, 4, 8, &cp, nullptr, 0); },
           [&] { simdrop::forward_2d(base, 7, base + n, 8, 4, 8, p); });
    expect(SIMDROP_ERR_LEADING_DIM,
           [&] { return simdrop_backward_2d_f32(base, 8, base + n, 7, 4, 8, &cp); },
           [&] { simdrop::backward_2d(base, 8, base + n, 7, 4, 8, p); });
  }
  SECTION("bad parameters in the runtime-facing calls") {
    const simdrop::params bad(2.0f, 3);
    const simdrop_params cbad = bad.c();
    expect(SIMDROP_ERR_KEEP_PROB,
           [&] { return simdrop_forward_2d_f32(base, 8, base + n, 8, 4, 8, &cbad, nullptr, 0); },
           [&] { simdrop::forward_2d(base, 8, base + n, 8, 4, 8, bad); });
    expect(SIMDROP_ERR_KEEP_PROB,
           [&] { return simdrop_forward_channels_f32(base, base + n, 2, 4, 8, 0, &cbad, nullptr); },
           [&] { simdrop::forward_channels(base, base + n, 2, 4, 8, false, bad); });
    expect(SIMDROP_ERR_KEEP_PROB,
           [&] { return simdrop_bias_dropout_add_f32(base, base + n, base + n, base + 8, 1, 8, &cbad, nullptr); },
           [&] { simdrop::bias_dropout_add(base, base + n, base + n, base + 8, 1, 8, bad); });
  }
}

TEST_CASE("cpp api: container overloads reject mismatched sizes with SIMDROP_ERR_ARGUMENT", "[cpp_api]") {
  const simdrop::params p(0.5f, 3);
  const std::vector<float> x = random_floats(20, 4);
  std::vector<float> short_y = poisoned<float>(19);
  std::vector<u8> short_mask = poisoned<u8>(2);  // 20 elements need 3 bytes
  std::vector<float> y = poisoned<float>(20);
  auto status_of = [](const std::function<void()>& call) {
    try {
      call();
    } catch (const simdrop::error& e) {
      return e.status();
    }
    return int(SIMDROP_OK);
  };
  CHECK(status_of([&] { simdrop::forward(x, short_y, p); }) == SIMDROP_ERR_ARGUMENT);
  CHECK(status_of([&] { simdrop::forward(x, y, p, short_mask); }) == SIMDROP_ERR_ARGUMENT);
  CHECK(status_of([&] { simdrop::backward(x, short_y, p); }) == SIMDROP_ERR_ARGUMENT);
  CHECK(status_of([&] { simdrop::backward_mask(x, short_mask, y, p); }) == SIMDROP_ERR_ARGUMENT);
  CHECK(status_of([&] { simdrop::mask(short_mask, 20, p); }) == SIMDROP_ERR_ARGUMENT);
  std::vector<u16> h(20), short_h(21);
  CHECK(status_of([&] { simdrop::forward_bf16(h, short_h, p); }) == SIMDROP_ERR_ARGUMENT);
  CHECK(status_of([&] { simdrop::forward_f16(h, short_h, p); }) == SIMDROP_ERR_ARGUMENT);
  CHECK(same_bytes(short_y, poisoned<float>(19)));
  CHECK(same_bytes(short_mask, poisoned<u8>(2)));
  CHECK(same_bytes(y, poisoned<float>(20)));
}

// ===================================================== implementations, threads

TEST_CASE("cpp api: set_isa, active_isa and isa_names follow the C API", "[cpp_api]") {
  global_state_guard guard;
  std::vector<std::string> c_names;
  for (std::size_t i = 0; i < simdrop_isa_count(); ++i) c_names.emplace_back(simdrop_isa_name(i));
  CHECK(simdrop::isa_names() == c_names);
  REQUIRE(!c_names.empty());
  CHECK(c_names.back() == "scalar");

  for (const std::string& name : c_names) {
    INFO(name);
    CHECK(simdrop::isa_supported(name) == (simdrop_isa_supported(name.c_str()) != 0));
    if (!simdrop::isa_supported(name)) continue;
    simdrop::set_isa(name);
    CHECK(simdrop::active_isa() == name);
    CHECK(simdrop::active_isa() == simdrop_active_isa());
  }
  simdrop::set_isa("auto");
  CHECK(simdrop::active_isa() == simdrop_active_isa());
  const std::string detected = simdrop::active_isa();

  // Unknown and unsupported names: same status as C, and the active one stays.
  std::vector<const char*> refused = {"bogus", "", "AVX2", "scalar "};
  for (const char* name : {"scalar", "avx2", "avx512", "neon"})
    if (!simdrop_isa_supported(name)) refused.push_back(name);
  for (const char* name : refused) {
    INFO("name \"" << name << "\"");
    const int status = simdrop_set_isa(name);
    CHECK(status != SIMDROP_OK);
    int thrown = SIMDROP_OK;
    try {
      simdrop::set_isa(std::string(name));
    } catch (const simdrop::error& e) {
      thrown = e.status();
    }
    CHECK(thrown == status);
    CHECK(simdrop::active_isa() == detected);
  }
  int thrown = SIMDROP_OK;
  try {
    simdrop::set_isa(static_cast<const char*>(nullptr));
  } catch (const simdrop::error& e) {
    thrown = e.status();
  }
  CHECK(thrown == SIMDROP_ERR_UNKNOWN_ISA);
  CHECK(simdrop_set_isa(nullptr) == SIMDROP_ERR_UNKNOWN_ISA);
}

TEST_CASE("cpp api: set_num_threads follows the C API", "[cpp_api]") {
  global_state_guard guard;
  CHECK_NOTHROW(simdrop::set_num_threads(1));
  CHECK(simdrop::num_threads() == 1);
  CHECK(simdrop_get_num_threads() == 1);
  CHECK_NOTHROW(simdrop::set_num_threads(0));
  CHECK(simdrop::num_threads() == 0);
  int thrown = SIMDROP_OK;
  try {
    simdrop::set_num_threads(-1);
  } catch (const simdrop::error& e) {
    thrown = e.status();
  }
  CHECK(thrown == SIMDROP_ERR_NUM_THREADS);
  CHECK(simdrop_set_num_threads(-1) == SIMDROP_ERR_NUM_THREADS);
  CHECK(simdrop::num_threads() == 0);
}
