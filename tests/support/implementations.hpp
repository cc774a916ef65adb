// Every implementation this build has compiled in and this CPU can run, a guard
// that forces one (and returns to "auto"), and a GENERATE-based macro that runs
// a test case once per implementation. New SIMD implementations are picked up
// with no change to the tests: the list comes from the library at run time.
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <type_traits>
#include <vector>

#include "simdrop/simdrop.h"

namespace simdrop_test {

// Compiled in, best first (as simdrop_isa_name lists them).
inline std::vector<std::string> compiled_implementations() {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < simdrop_isa_count(); ++i) names.emplace_back(simdrop_isa_name(i));
  return names;
}

// Compiled in and supported by this CPU and OS, best first; always includes "scalar".
inline std::vector<std::string> supported_implementations() {
  std::vector<std::string> names;
  for (const std::string& name : compiled_implementations())
    if (simdrop_isa_supported(name.c_str())) names.push_back(name);
  return names;
}

// Makes `name` the active implementation for the guard's lifetime, then goes
// back to "auto" (detection). Fails the test if it cannot be forced.
class forced_isa {
 public:
  explicit forced_isa(const std::string& name) {
    const int status = simdrop_set_isa(name.c_str());
    INFO("simdrop_set_isa(\"" << name << "\") returned " << status << ": " << simdrop_status_string(status));
    REQUIRE(status == SIMDROP_OK);
    REQUIRE(std::string(simdrop_active_isa()) == name);
  }
  ~forced_isa() { simdrop_set_isa("auto"); }
  forced_isa(const forced_isa&) = delete;
  forced_isa& operator=(const forced_isa&) = delete;
};

// Runs fn() with `name` forced, then returns to "auto".
template <class F>
void with_isa(const std::string& name, F&& fn) {
  forced_isa guard(name);
  fn();
}

// Runs fn once per (implementation, thread count 1, 2, 3) with both forced, as
// fn(isa, threads) or fn(), then returns to "auto" and OpenMP's default count.
template <class F>
void for_each_isa_and_threads(F&& fn) {
  for (const std::string& isa : supported_implementations()) {
    forced_isa guard(isa);
    for (int threads : {1, 2, 3}) {
      REQUIRE(simdrop_set_num_threads(threads) == SIMDROP_OK);
      INFO("implementation " << isa << ", threads " << threads);
      if constexpr (std::is_invocable_v<F&, const std::string&, int>)
        fn(isa, threads);
      else
        fn();
    }
  }
  simdrop_set_num_threads(0);
}

}  // namespace simdrop_test

// Inside a TEST_CASE: declares `const std::string var` and runs the rest of the
// test case once per supported implementation, with that implementation forced
// and its name in every failure message. Use it once per test case, before any
// SECTION.
#define SIMDROP_FOR_EACH_IMPLEMENTATION(var)                                                    \
  const std::string var = GENERATE(Catch::Generators::from_range(                               \
      ::simdrop_test::supported_implementations()));                                            \
  ::simdrop_test::forced_isa var##_forced_isa_guard(var);                                       \
  INFO("implementation: " << var)
