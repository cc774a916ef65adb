// The tutorial's dropout, as a newcomer writes it: the baseline simdrop is
// compared with. Compiled with the library's optimisation flags (the build
// type's, no -march), single-threaded as such code is. The engine is seeded
// once and carries on from call to call, so every call gets a new mask, as in
// training.
//   naive/mt19937_loop  (a) one element at a time: draw, compare, multiply by
//                       the mask, divide by keep_prob
//   naive/two_pass      (b) fill a buffer of random floats, then mask and scale
#include <random>

#include "bench_common.hpp"

namespace {

// (a) The loop of the tutorial.
void dropout_one_pass(const float* x, float* y, size_t n, float keep_prob, std::mt19937& engine) {
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  for (size_t i = 0; i < n; ++i) {
    const float mask = uniform(engine) < keep_prob ? 1.0f : 0.0f;
    y[i] = x[i] * mask / keep_prob;
  }
}

// (b) Random numbers first, into their own buffer; then a second pass.
void dropout_two_pass(const float* x, float* y, float* random, size_t n, float keep_prob,
                      std::mt19937& engine) {
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  for (size_t i = 0; i < n; ++i) random[i] = uniform(engine);
  for (size_t i = 0; i < n; ++i) y[i] = x[i] * float(random[i] < keep_prob) / keep_prob;
}

void register_naive(const simdrop_bench::config& cfg) {
  for (size_t n : cfg.sizes) {
    simdrop_bench::add_row("naive/mt19937_loop", n, 1, 8.0, [n](benchmark::State& state) {
      simdrop_bench::buffers& b = simdrop_bench::buffers_for(n);
      std::mt19937 engine(12345);
      for (auto _ : state) {
        dropout_one_pass(b.x, b.y, n, simdrop_bench::keep_prob, engine);
        benchmark::DoNotOptimize(b.y);
        benchmark::ClobberMemory();
      }
    });
    simdrop_bench::add_row("naive/two_pass", n, 1, 8.0, [n](benchmark::State& state) {
      simdrop_bench::buffers& b = simdrop_bench::buffers_for(n);
      float* random = simdrop_bench::random_scratch(n);
      std::mt19937 engine(12345);
      for (auto _ : state) {
        dropout_two_pass(b.x, b.y, random, n, simdrop_bench::keep_prob, engine);
        benchmark::DoNotOptimize(b.y);
        benchmark::ClobberMemory();
      }
    });
  }
}

}  // namespace

SIMDROP_BENCH_REGISTRAR(10, register_naive);
