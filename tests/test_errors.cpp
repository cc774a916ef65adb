// Every bad input of every element-wise call returns its documented status and
// writes nothing (each output is filled with a pattern first and compared
// after); n == 0 with NULL pointers is a no-op; simdrop_status_string,
// simdrop_set_isa / simdrop_active_isa and simdrop_set_num_threads follow
// their documentation.
#include <catch2/catch.hpp>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "simdrop/simdrop.h"
#include "support/implementations.hpp"
#include "support/util.hpp"

namespace {

constexpr std::size_t n_elements = 100;
constexpr std::uint64_t u64_max = std::numeric_limits<std::uint64_t>::max();

// The element-wise entry points.
enum class call { forward, forward_with_mask, backward, backward_mask, mask, fill_u32 };
const call all_calls[] = {call::forward, call::forward_with_mask, call::backward,
                          call::backward_mask, call::mask, call::fill_u32};

const char* call_name(call c) {
  switch (c) {
    case call::forward: return "simdrop_forward_f32 (mask NULL)";
    case call::forward_with_mask: return "simdrop_forward_f32 (with mask)";
    case call::backward: return "simdrop_backward_f32";
    case call::backward_mask: return "simdrop_backward_mask_f32";
    case call::mask: return "simdrop_mask";
    case call::fill_u32: return "simdrop_fill_u32";
  }
  return "?";
}

// Separate input and output buffers, every one filled with a recognisable pattern.
struct buffers {
  std::vector<float> in, out;
  std::vector<std::uint8_t> mask;
  std::vector<std::uint32_t> words;

  explicit buffers(std::size_t n) : in(n), out(n), mask((n + 7) / 8), words(n) {
    for (std::size_t i = 0; i < n; ++i) {
      in[i] = float(i) + 0.25f;
      out[i] = simdrop_test::float_from_bits(0x7F80DEADu);  // a NaN payload nobody computes
      words[i] = 0xC0DE0000u + std::uint32_t(i);
    }
    for (std::size_t i = 0; i < mask.size(); ++i) mask[i] = std::uint8_t(0xA5u ^ i);
  }

  bool unchanged() const {
    const buffers fresh(in.size());
    return std::memcmp(in.data(), fresh.in.data(), in.size() * sizeof(float)) == 0 &&
           std::memcmp(out.data(), fresh.out.data(), out.size() * sizeof(float)) == 0 &&
           mask == fresh.mask && words == fresh.words;
  }
};

int invoke(call c, buffers& b, std::size_t n, const simdrop_params* p) {
  switch (c) {
    case call::forward: return simdrop_forward_f32(b.in.data(), b.out.data(), n, p, nullptr);
    case call::forward_with_mask: return simdrop_forward_f32(b.in.data(), b.out.data(), n, p, b.mask.data());
    case call::backward: return simdrop_backward_f32(b.in.data(), b.out.data(), n, p);
    case call::backward_mask: return simdrop_backward_mask_f32(b.in.data(), b.mask.data(), b.out.data(), n, p);
    case call::mask: return simdrop_mask(b.mask.data(), n, p);
    case call::fill_u32: return simdrop_fill_u32(b.words.data(), n, p);
  }
  return -1;
}

// Writes an arbitrary int into the generator field without forming an
// out-of-range enum value in C++ (which would be undefined behaviour here).
void set_generator_raw(simdrop_params& p, int value) {
  static_assert(sizeof(p.generator) == sizeof(int), "simdrop_generator is expected to be int-sized");
  std::memcpy(&p.generator, &value, sizeof value);
}

struct bad_params_case {
  std::string what;
  simdrop_params params;
  int expected;
};

std::vector<bad_params_case> bad_params_cases() {
  std::vector<bad_params_case> cases;
  const simdrop_params good = simdrop_params_default(0.5f, 1);
  const float inf = std::numeric_limits<float>::infinity();
  const struct {
    const char* what;
    float value;
  } bad_keep[] = {
      {"NaN", std::numeric_limits<float>::quiet_NaN()},
      {"-NaN", -std::numeric_limits<float>::quiet_NaN()},
      {"signalling NaN", std::numeric_limits<float>::signaling_NaN()},
      {"+inf", inf},
      {"-inf", -inf},
      {"-1", -1.0f},
      {"-FLT_MIN", -std::numeric_limits<float>::min()},
      {"-denorm_min", -std::numeric_limits<float>::denorm_min()},
      {"1 + ulp", std::nextafter(1.0f, 2.0f)},
      {"2", 2.0f},
      {"FLT_MAX", std::numeric_limits<float>::max()},
  };
  for (const auto& k : bad_keep) {
    simdrop_params p = good;
    p.keep_prob = k.value;
    cases.push_back({std::string("keep_prob ") + k.what, p, SIMDROP_ERR_KEEP_PROB});
  }
  for (std::uint32_t bits : {0u, 1u, 7u, 9u, 15u, 17u, 24u, 31u, 33u, 48u, 64u, 0x10010u, 0x10020u, 0xFFFFFFFFu}) {
    simdrop_params p = good;
    p.threshold_bits = bits;
    cases.push_back({"threshold_bits " + std::to_string(bits), p, SIMDROP_ERR_THRESHOLD_BITS});
  }
  {
    simdrop_params p = good;
    p.offset = u64_max - n_elements + 2;  // offset + n = 2^64 + 1
    cases.push_back({"offset 2^64 - n + 1", p, SIMDROP_ERR_INDEX_OVERFLOW});
    p.offset = u64_max;
    cases.push_back({"offset 2^64 - 1 (n > 1)", p, SIMDROP_ERR_INDEX_OVERFLOW});
  }
  return cases;
}

// Unknown generator values, kept in their own test case: they are written
// through memcpy (C++ cannot form an out-of-range enum value), which is how a C
// caller or another language hands them over.
std::vector<bad_params_case> unknown_generator_cases() {
  std::vector<bad_params_case> cases;
  for (int generator : {2, 3, -1, 0x100, 0x101, INT_MAX, INT_MIN}) {
    simdrop_params p = simdrop_params_default(0.5f, 1);
    set_generator_raw(p, generator);
    cases.push_back({"generator " + std::to_string(generator), p, SIMDROP_ERR_GENERATOR});
  }
  return cases;
}

}  // namespace

// Every call with each case's parameters returns the case's status and writes
// nothing, with n elements and with none (n == 0 does not excuse bad
// parameters; an offset overflow needs n > 0, though).
static void check_every_call_refuses(const std::vector<bad_params_case>& cases) {
  for (const bad_params_case& bc : cases)
    for (call c : all_calls) {
      INFO(call_name(c) << " with " << bc.what);
      buffers b(n_elements);
      const int status = invoke(c, b, n_elements, &bc.params);
      INFO("returned " << status << " (" << simdrop_status_string(status) << ")");
      CHECK(status == bc.expected);
      CHECK(b.unchanged());
      if (bc.expected != SIMDROP_ERR_INDEX_OVERFLOW) {
        buffers empty(0);
        CHECK(invoke(c, empty, 0, &bc.params) == bc.expected);
      }
    }
}

TEST_CASE("bad parameters return their status from every call and write nothing", "[errors][params]") {
  check_every_call_refuses(bad_params_cases());
}

TEST_CASE("an unknown generator value returns SIMDROP_ERR_GENERATOR from every call and writes nothing",
          "[errors][params][generator]") {
  check_every_call_refuses(unknown_generator_cases());
}

TEST_CASE("the edges of the valid ranges are accepted", "[errors][params]") {
  struct good_case {
    const char* what;
    simdrop_params params;
  };
  std::vector<good_case> cases;
  simdrop_params p = simdrop_params_default(0.5f, 1);
  for (float k : {0.0f, -0.0f, 1.0f, std::numeric_limits<float>::denorm_min(), std::nextafter(1.0f, 0.0f)}) {
    p.keep_prob = k;
    cases.push_back({"keep_prob edge", p});
  }
  p = simdrop_params_default(0.5f, 1);
  p.threshold_bits = 16;
  cases.push_back({"threshold_bits 16", p});
  p = simdrop_params_default(0.5f, 1);
  p.threshold_bits = 8;
  cases.push_back({"threshold_bits 8", p});
  p = simdrop_params_default(0.5f, 1);
  p.generator = SIMDROP_XOSHIRO128PP;
  cases.push_back({"xoshiro", p});
  p = simdrop_params_default(0.5f, 1);
  p.offset = u64_max - n_elements + 1;  // the last element is g = 2^64 - 1
  cases.push_back({"offset 2^64 - n", p});
  for (const good_case& gc : cases)
    for (call c : all_calls) {
      INFO(call_name(c) << " with " << gc.what << " keep_prob " << gc.params.keep_prob);
      buffers b(n_elements);
      CHECK(invoke(c, b, n_elements, &gc.params) == SIMDROP_OK);
    }
}

TEST_CASE("NULL params return SIMDROP_ERR_NULL_PARAMS from every call, also for n == 0", "[errors][null]") {
  for (call c : all_calls) {
    INFO(call_name(c));
    buffers b(n_elements);
    CHECK(invoke(c, b, n_elements, nullptr) == SIMDROP_ERR_NULL_PARAMS);
    CHECK(b.unchanged());
    buffers empty(0);
    CHECK(invoke(c, empty, 0, nullptr) == SIMDROP_ERR_NULL_PARAMS);
  }
}

TEST_CASE("a NULL data pointer with n > 0 returns SIMDROP_ERR_NULL_POINTER and writes nothing", "[errors][null]") {
  const simdrop_params p = simdrop_params_default(0.5f, 3);
  const std::size_t n = n_elements;
  buffers b(n);
  SECTION("forward: x") { CHECK(simdrop_forward_f32(nullptr, b.out.data(), n, &p, b.mask.data()) == SIMDROP_ERR_NULL_POINTER); }
  SECTION("forward: y") { CHECK(simdrop_forward_f32(b.in.data(), nullptr, n, &p, b.mask.data()) == SIMDROP_ERR_NULL_POINTER); }
  SECTION("forward: x and y, mask NULL") { CHECK(simdrop_forward_f32(nullptr, nullptr, n, &p, nullptr) == SIMDROP_ERR_NULL_POINTER); }
  SECTION("backward: dy") { CHECK(simdrop_backward_f32(nullptr, b.out.data(), n, &p) == SIMDROP_ERR_NULL_POINTER); }
  SECTION("backward: dx") { CHECK(simdrop_backward_f32(b.in.data(), nullptr, n, &p) == SIMDROP_ERR_NULL_POINTER); }
  SECTION("backward_mask: dy") { CHECK(simdrop_backward_mask_f32(nullptr, b.mask.data(), b.out.data(), n, &p) == SIMDROP_ERR_NULL_POINTER); }
  SECTION("backward_mask: mask") { CHECK(simdrop_backward_mask_f32(b.in.data(), nullptr, b.out.data(), n, &p) == SIMDROP_ERR_NULL_POINTER); }
  SECTION("backward_mask: dx") { CHECK(simdrop_backward_mask_f32(b.in.data(), b.mask.data(), nullptr, n, &p) == SIMDROP_ERR_NULL_POINTER); }
  SECTION("mask") { CHECK(simdrop_mask(nullptr, n, &p) == SIMDROP_ERR_NULL_POINTER); }
  SECTION("fill_u32") { CHECK(simdrop_fill_u32(nullptr, n, &p) == SIMDROP_ERR_NULL_POINTER); }
  CHECK(b.unchanged());
}

TEST_CASE("n == 0 is a no-op that succeeds with NULL pointers", "[errors][null]") {
  for (simdrop_generator g : {SIMDROP_PHILOX4X32_10, SIMDROP_XOSHIRO128PP}) {
    simdrop_params p = simdrop_params_default(0.5f, 3);
    p.generator = g;
    p.offset = u64_max;  // offset + 0 <= 2^64 whatever the offset
    CHECK(simdrop_forward_f32(nullptr, nullptr, 0, &p, nullptr) == SIMDROP_OK);
    CHECK(simdrop_backward_f32(nullptr, nullptr, 0, &p) == SIMDROP_OK);
    CHECK(simdrop_backward_mask_f32(nullptr, nullptr, nullptr, 0, &p) == SIMDROP_OK);
    CHECK(simdrop_mask(nullptr, 0, &p) == SIMDROP_OK);
    CHECK(simdrop_fill_u32(nullptr, 0, &p) == SIMDROP_OK);
    buffers b(4);
    for (call c : all_calls) {
      INFO(call_name(c));
      CHECK(invoke(c, b, 0, &p) == SIMDROP_OK);
    }
    CHECK(b.unchanged());
  }
}

TEST_CASE("an element count whose last index passes 2^64 is rejected before anything is touched",
          "[errors][overflow]") {
  if (sizeof(std::size_t) < 8) return;  // n cannot reach 2^64 - 1 on a 32-bit target
  // The buffers hold only 100 elements: a library that started writing would crash.
  const std::size_t huge = std::numeric_limits<std::size_t>::max();
  for (std::uint64_t offset : {std::uint64_t(2), std::uint64_t(1) << 63, u64_max}) {
    simdrop_params p = simdrop_params_default(0.5f, 3);
    p.offset = offset;
    for (call c : all_calls) {
      INFO(call_name(c) << " n = SIZE_MAX, offset " << offset);
      buffers b(n_elements);
      CHECK(invoke(c, b, huge, &p) == SIMDROP_ERR_INDEX_OVERFLOW);
      CHECK(b.unchanged());
    }
  }
}

TEST_CASE("partially overlapping buffers return SIMDROP_ERR_OVERLAP and write nothing", "[errors][overlap]") {
  const simdrop_params p = simdrop_params_default(0.5f, 3);
  const std::size_t n = n_elements;
  // One arena holds every buffer of a case, so "nothing written" covers all of them.
  std::vector<float> arena(4 * n);
  for (std::size_t i = 0; i < arena.size(); ++i) arena[i] = float(i) * 0.5f + 0.125f;
  const std::vector<float> original = arena;
  float* base = arena.data() + n;
  auto bytes = [](float* f) { return reinterpret_cast<std::uint8_t*>(f); };

  SECTION("forward: y one element after x") { CHECK(simdrop_forward_f32(base, base + 1, n, &p, nullptr) == SIMDROP_ERR_OVERLAP); }
  SECTION("forward: y one element before x") { CHECK(simdrop_forward_f32(base, base - 1, n, &p, nullptr) == SIMDROP_ERR_OVERLAP); }
  SECTION("forward: y shares only x's last element") { CHECK(simdrop_forward_f32(base, base + n - 1, n, &p, nullptr) == SIMDROP_ERR_OVERLAP); }
  SECTION("forward: x shares only y's last element") { CHECK(simdrop_forward_f32(base + n - 1, base, n, &p, nullptr) == SIMDROP_ERR_OVERLAP); }
  SECTION("forward: mask inside x") { CHECK(simdrop_forward_f32(base, base + 2 * n, n, &p, bytes(base + 3)) == SIMDROP_ERR_OVERLAP); }
  SECTION("forward: mask starts at x") { CHECK(simdrop_forward_f32(base, base + 2 * n, n, &p, bytes(base)) == SIMDROP_ERR_OVERLAP); }
  SECTION("forward: mask inside y") { CHECK(simdrop_forward_f32(base, base + 2 * n, n, &p, bytes(base + 2 * n + 5)) == SIMDROP_ERR_OVERLAP); }
  SECTION("forward: mask starts at y") { CHECK(simdrop_forward_f32(base, base + 2 * n, n, &p, bytes(base + 2 * n)) == SIMDROP_ERR_OVERLAP); }
  SECTION("forward: mask ends in y's first byte") { CHECK(simdrop_forward_f32(base - n, base + 1, n, &p, bytes(base + 1) - (n + 7) / 8 + 1) == SIMDROP_ERR_OVERLAP); }
  SECTION("forward in place: mask inside x == y") { CHECK(simdrop_forward_f32(base, base, n, &p, bytes(base + 10)) == SIMDROP_ERR_OVERLAP); }
  SECTION("backward: dx one element after dy") { CHECK(simdrop_backward_f32(base, base + 1, n, &p) == SIMDROP_ERR_OVERLAP); }
  SECTION("backward: dx one element before dy") { CHECK(simdrop_backward_f32(base, base - 1, n, &p) == SIMDROP_ERR_OVERLAP); }
  SECTION("backward: dx shares dy's last element") { CHECK(simdrop_backward_f32(base, base + n - 1, n, &p) == SIMDROP_ERR_OVERLAP); }
  SECTION("backward_mask: dx one element after dy") { CHECK(simdrop_backward_mask_f32(base, bytes(base + 2 * n), base + 1, n, &p) == SIMDROP_ERR_OVERLAP); }
  SECTION("backward_mask: dx one element before dy") { CHECK(simdrop_backward_mask_f32(base, bytes(base + 2 * n), base - 1, n, &p) == SIMDROP_ERR_OVERLAP); }
  SECTION("backward_mask: mask inside dx") { CHECK(simdrop_backward_mask_f32(base, bytes(base + 2 * n + 4), base + 2 * n, n, &p) == SIMDROP_ERR_OVERLAP); }
  SECTION("backward_mask: mask starts at dx") { CHECK(simdrop_backward_mask_f32(base - n, bytes(base), base, n, &p) == SIMDROP_ERR_OVERLAP); }
  CHECK(std::memcmp(arena.data(), original.data(), arena.size() * sizeof(float)) == 0);
}

TEST_CASE("buffers that only touch, exact aliasing and shared inputs are not overlap", "[errors][overlap]") {
  const simdrop_params p = simdrop_params_default(0.5f, 3);
  const std::size_t n = n_elements;
  std::vector<float> arena(4 * n, 1.0f);
  float* base = arena.data() + n;
  auto bytes = [](float* f) { return reinterpret_cast<std::uint8_t*>(f); };
  const std::size_t mask_len = (n + 7) / 8;
  CHECK(simdrop_forward_f32(base, base + n, n, &p, nullptr) == SIMDROP_OK);           // y right after x
  CHECK(simdrop_forward_f32(base, base - n, n, &p, nullptr) == SIMDROP_OK);           // y right before x
  CHECK(simdrop_forward_f32(base, base, n, &p, nullptr) == SIMDROP_OK);               // in place
  CHECK(simdrop_forward_f32(base, base, n, &p, bytes(base + n)) == SIMDROP_OK);       // mask right after x == y
  CHECK(simdrop_forward_f32(base, base + 2 * n, n, &p, bytes(base + n)) == SIMDROP_OK);   // mask between x and y
  CHECK(simdrop_forward_f32(base, base + n, n, &p, bytes(base) - mask_len) == SIMDROP_OK);  // mask right before x
  CHECK(simdrop_backward_f32(base, base, n, &p) == SIMDROP_OK);
  CHECK(simdrop_backward_f32(base, base + n, n, &p) == SIMDROP_OK);
  std::vector<std::uint8_t> mask(mask_len, 0x55);
  CHECK(simdrop_backward_mask_f32(base, mask.data(), base, n, &p) == SIMDROP_OK);  // dy == dx
  // The mask and dy are both inputs: sharing bytes between inputs is not an overlap error.
  CHECK(simdrop_backward_mask_f32(base, bytes(base), base + 2 * n, n, &p) == SIMDROP_OK);
}

TEST_CASE("simdrop_status_string is never NULL or empty and names every status", "[errors][status]") {
  for (int s = -1000; s <= 1000; ++s) {
    const char* text = simdrop_status_string(s);
    REQUIRE(text != nullptr);
    CHECK(text[0] != '\0');
  }
  for (int s : {INT_MIN, INT_MIN + 1, INT_MAX, -1, 13, 99, 255, 256}) {
    const char* text = simdrop_status_string(s);
    REQUIRE(text != nullptr);
    CHECK(text[0] != '\0');
  }
  // Every named status has its own description, different from the unknown one.
  const int named[] = {SIMDROP_OK,
                       SIMDROP_ERR_NULL_PARAMS,
                       SIMDROP_ERR_KEEP_PROB,
                       SIMDROP_ERR_THRESHOLD_BITS,
                       SIMDROP_ERR_GENERATOR,
                       SIMDROP_ERR_NULL_POINTER,
                       SIMDROP_ERR_INDEX_OVERFLOW,
                       SIMDROP_ERR_OVERLAP,
                       SIMDROP_ERR_UNKNOWN_ISA,
                       SIMDROP_ERR_UNSUPPORTED_ISA,
                       SIMDROP_ERR_NUM_THREADS,
                       SIMDROP_ERR_LEADING_DIM,
                       SIMDROP_ERR_ARGUMENT};
  std::set<int> codes;
  std::set<std::string> texts;
  const std::string unknown = simdrop_status_string(-12345);
  for (int s : named) {
    codes.insert(s);
    texts.insert(simdrop_status_string(s));
    CHECK(std::string(simdrop_status_string(s)) != unknown);
  }
  CHECK(codes.size() == sizeof named / sizeof named[0]);
  CHECK(texts.size() == sizeof named / sizeof named[0]);
  CHECK(SIMDROP_OK == 0);
}

TEST_CASE("simdrop_set_isa rejects unknown names and unsupported implementations", "[errors][isa]") {
  REQUIRE(simdrop_set_isa("auto") == SIMDROP_OK);
  const std::string before = simdrop_active_isa();
  for (const char* name : {"bogus", "", "AVX2", "Scalar", "scalar ", " scalar", "avx", "sse2", "neon64", "autox",
                           "AUTO", "avx512f"}) {
    INFO("name \"" << name << "\"");
    CHECK(simdrop_set_isa(name) == SIMDROP_ERR_UNKNOWN_ISA);
    CHECK(simdrop_active_isa() == before);
    CHECK(simdrop_isa_supported(name) == 0);
  }
  CHECK(simdrop_set_isa(nullptr) == SIMDROP_ERR_UNKNOWN_ISA);
  CHECK(simdrop_isa_supported(nullptr) == 0);
  CHECK(simdrop_isa_supported("auto") == 0);

  // Known names this build or CPU cannot run (at least "neon" on x86-64, "avx2"/"avx512" on aarch64).
  const std::vector<std::string> supported = simdrop_test::supported_implementations();
  std::size_t unsupported = 0;
  for (const char* name : {"scalar", "avx2", "avx512", "neon"}) {
    INFO("name \"" << name << "\"");
    const bool is_supported = std::find(supported.begin(), supported.end(), name) != supported.end();
    CHECK(simdrop_isa_supported(name) == (is_supported ? 1 : 0));
    if (!is_supported) {
      ++unsupported;
      CHECK(simdrop_set_isa(name) == SIMDROP_ERR_UNSUPPORTED_ISA);
      CHECK(simdrop_active_isa() == before);
    }
  }
  CHECK(unsupported >= 1);
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
  CHECK(simdrop_set_isa("neon") == SIMDROP_ERR_UNSUPPORTED_ISA);
#endif
#if defined(__aarch64__)
  CHECK(simdrop_set_isa("avx2") == SIMDROP_ERR_UNSUPPORTED_ISA);
  CHECK(simdrop_set_isa("avx512") == SIMDROP_ERR_UNSUPPORTED_ISA);
#endif
  CHECK(simdrop_set_isa("auto") == SIMDROP_OK);
}

TEST_CASE("a forced implementation is the active one, and auto picks the best supported", "[errors][isa]") {
  const std::vector<std::string> compiled = simdrop_test::compiled_implementations();
  REQUIRE(!compiled.empty());
  CHECK(compiled.back() == "scalar");
  CHECK(simdrop_isa_name(compiled.size()) == nullptr);
  CHECK(simdrop_isa_name(std::size_t(-1)) == nullptr);
  for (const std::string& name : compiled) {
    INFO("compiled: " << name);
    CHECK((name == "scalar" || name == "avx2" || name == "avx512" || name == "neon"));
  }
  const std::vector<std::string> supported = simdrop_test::supported_implementations();
  REQUIRE(!supported.empty());
  CHECK(supported.back() == "scalar");
  for (const std::string& name : supported) {
    INFO("forcing " << name);
    REQUIRE(simdrop_set_isa(name.c_str()) == SIMDROP_OK);
    CHECK(std::string(simdrop_active_isa()) == name);
    // A failed switch leaves the forced one active.
    CHECK(simdrop_set_isa("bogus") == SIMDROP_ERR_UNKNOWN_ISA);
    CHECK(std::string(simdrop_active_isa()) == name);
  }
  REQUIRE(simdrop_set_isa("auto") == SIMDROP_OK);
  CHECK(std::string(simdrop_active_isa()) == supported.front());
}

TEST_CASE("simdrop_set_num_threads rejects negative counts and keeps its setting", "[errors][threads]") {
  const int before = simdrop_get_num_threads();
  CHECK(simdrop_set_num_threads(-1) == SIMDROP_ERR_NUM_THREADS);
  CHECK(simdrop_set_num_threads(INT_MIN) == SIMDROP_ERR_NUM_THREADS);
  CHECK(simdrop_get_num_threads() == before);
  CHECK(simdrop_set_num_threads(3) == SIMDROP_OK);
  CHECK(simdrop_get_num_threads() == 3);
  CHECK(simdrop_set_num_threads(-5) == SIMDROP_ERR_NUM_THREADS);
  CHECK(simdrop_get_num_threads() == 3);
  CHECK(simdrop_set_num_threads(0) == SIMDROP_OK);
  CHECK(simdrop_get_num_threads() == 0);
  CHECK(simdrop_set_num_threads(before) == SIMDROP_OK);
}

TEST_CASE("simdrop_params_default fills in the documented defaults", "[errors][params]") {
  const simdrop_params p = simdrop_params_default(0.25f, 0x0123456789abcdefull);
  CHECK(p.keep_prob == 0.25f);
  CHECK(p.seed == 0x0123456789abcdefull);
  CHECK(p.stream == 0u);
  CHECK(p.offset == 0u);
  CHECK(p.generator == SIMDROP_PHILOX4X32_10);
  CHECK(p.threshold_bits == 16u);  // the default since 0.2.0
}
