// An outside C++17 program that embeds simdrop through its CMake package and
// uses the C++ API (simdrop/simdrop.hpp) next to the C API it wraps.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "simdrop/simdrop.hpp"

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "consumer.cpp: FAILED: %s\n", what);
    ++failures;
  }
}

}  // namespace

int main() {
  const std::size_t n = 5000;
  std::vector<float> x(n), y(n), y_c(n);
  for (std::size_t i = 0; i < n; ++i) x[i] = float(i % 97) - 48.5f;
  std::vector<std::uint8_t> mask(simdrop::mask_bytes(n)), mask_c(simdrop::mask_bytes(n));

  const auto p = simdrop::params(0.9f, 2024)
                     .with_stream(3)
                     .with_offset(12345)
                     .with_generator(simdrop::generator::xoshiro128pp)
                     .with_threshold_bits(16);
  simdrop::forward(x, y, p, mask);
  const simdrop_params cp = p;
  expect(simdrop_forward_f32(x.data(), y_c.data(), n, &cp, mask_c.data()) == SIMDROP_OK, "C forward succeeds");
  expect(std::memcmp(y.data(), y_c.data(), n * sizeof(float)) == 0, "C++ and C outputs are the same bytes");
  expect(mask == mask_c, "C++ and C masks are the same bytes");

  std::vector<float> dx(n);
  simdrop::backward(y, dx, p);  // regenerates the same decisions
  bool zeros_match = true;
  for (std::size_t i = 0; i < n; ++i) zeros_match = zeros_match && ((dx[i] == 0.0f) == (y[i] == 0.0f));  // x is never 0
  expect(zeros_match, "backward drops the elements forward dropped");

  int status = SIMDROP_OK;
  try {
    simdrop::forward(x, y, simdrop::params(-1.0f));
  } catch (const simdrop::error& e) {
    status = e.status();
    expect(std::string(e.what()) == simdrop_status_string(SIMDROP_ERR_KEEP_PROB), "error message");
  }
  expect(status == SIMDROP_ERR_KEEP_PROB, "simdrop::error carries SIMDROP_ERR_KEEP_PROB");

  const std::vector<std::string> names = simdrop::isa_names();
  expect(!names.empty() && names.back() == "scalar", "scalar is the last implementation");
  expect(std::find(names.begin(), names.end(), simdrop::active_isa()) != names.end(),
         "the active implementation is one of isa_names()");

  std::printf("consumer.cpp: implementation %s of %zu: %s\n", simdrop::active_isa().c_str(), names.size(),
              failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
