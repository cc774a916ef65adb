// First use from many threads at once, in a fresh process (issue 6): the lazy
// choice of the implementation must be race-free, every thread must see the same
// implementation, and the first calls must give the same bits as a serial call.
// Run by ctest under every build, and under ThreadSanitizer by .ci/sanitizers.sh.
//
// Usage: simdrop_first_use_race [threads]   (default 8)
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "simdrop/simdrop.h"

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 8;
  const size_t n = 3000;
  std::vector<std::vector<float>> outputs(static_cast<size_t>(threads), std::vector<float>(n));
  std::vector<std::vector<uint8_t>> masks(static_cast<size_t>(threads), std::vector<uint8_t>((n + 7) / 8));
  std::vector<std::string> names(static_cast<size_t>(threads));
  std::vector<int> statuses(static_cast<size_t>(threads), -1);
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = float(i) * 0.25f - 100.0f;
  simdrop_params p = simdrop_params_default(0.7f, 0x5EED);
  p.offset = (uint64_t(1) << 32) - 1000;

  // All threads wait at a spin barrier, then make their very first library call together.
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      if (t % 2 == 0) {
        names[size_t(t)] = simdrop_active_isa();
        statuses[size_t(t)] = simdrop_forward_f32(x.data(), outputs[size_t(t)].data(), n, &p, masks[size_t(t)].data());
      } else {
        statuses[size_t(t)] = simdrop_forward_f32(x.data(), outputs[size_t(t)].data(), n, &p, masks[size_t(t)].data());
        names[size_t(t)] = simdrop_active_isa();
      }
    });
  while (ready.load() != threads) std::this_thread::yield();
  go.store(true, std::memory_order_release);
  for (std::thread& t : pool) t.join();

  // The serial answer, on the reference implementation.
  if (simdrop_set_isa("scalar") != SIMDROP_OK) return std::fprintf(stderr, "set_isa(scalar) failed\n"), 1;
  std::vector<float> want(n);
  std::vector<uint8_t> want_mask((n + 7) / 8);
  if (simdrop_forward_f32(x.data(), want.data(), n, &p, want_mask.data()) != SIMDROP_OK) return 1;

  int failures = 0;
  for (int t = 0; t < threads; ++t) {
    if (statuses[size_t(t)] != SIMDROP_OK) ++failures, std::fprintf(stderr, "thread %d: status %d\n", t, statuses[size_t(t)]);
    if (names[size_t(t)] != names[0])
      ++failures, std::fprintf(stderr, "thread %d saw \"%s\", thread 0 \"%s\"\n", t, names[size_t(t)].c_str(), names[0].c_str());
    if (std::memcmp(outputs[size_t(t)].data(), want.data(), n * sizeof(float)) != 0 ||
        std::memcmp(masks[size_t(t)].data(), want_mask.data(), want_mask.size()) != 0)
      ++failures, std::fprintf(stderr, "thread %d: result differs from the serial scalar result\n", t);
  }
  std::printf("%d threads, first use chose \"%s\": %s\n", threads, names[0].c_str(), failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
