// Concurrent callers (issue 6): many std::threads and the caller's own OpenMP
// parallel regions calling every operation at once with different parameters,
// while another thread keeps switching the implementation (simdrop_set_isa) and
// the thread count (simdrop_set_num_threads). Every result must equal the
// serial result of the scalar reference, bit for bit.
//
// Tagged [threads]: .ci/sanitizers.sh runs these under ThreadSanitizer (clang +
// libomp). Catch2's assertions are not thread-safe, so worker threads only count
// mismatches; the main thread checks the counts.
//
// First use (the lazy choice of the implementation) can only race in a fresh
// process: see tests/fuzz/first_use_race.cpp and its ctests.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "simdrop/simdrop.h"

namespace {

enum conc_op {
  conc_forward,
  conc_forward_mask,
  conc_backward,
  conc_backward_mask,
  conc_mask,
  conc_fill,
  conc_forward_2d,
  conc_channels,
  conc_bias_dropout_add,
  conc_forward_f64,
  conc_forward_bf16,
  conc_backward_f16,
  conc_op_count
};

// Everything a call wrote, as bytes.
struct conc_result {
  std::vector<uint8_t> out;
  std::vector<uint8_t> mask;
  int status = -1;

  bool operator==(const conc_result& o) const { return status == o.status && out == o.out && mask == o.mask; }
};

struct conc_job {
  conc_op op;
  size_t n;               // elements (rows * cols, batch * channels * spatial)
  size_t rows = 0, cols = 0, ld_pad = 0;  // 2-D and fused shapes
  size_t batch = 0, channels = 0, spatial = 0;
  int channels_last = 0;
  simdrop_params p;
  std::vector<float> x, bias, residual;
  std::vector<uint8_t> mask_in;
  conc_result expected;  // serial, scalar
};

template <class T>
std::vector<uint8_t> conc_bytes(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

conc_result conc_run(const conc_job& j) {
  conc_result r;
  const size_t mask_bytes = (j.n + 7) / 8;
  switch (j.op) {
    case conc_forward:
    case conc_forward_mask: {
      std::vector<float> y(j.n, -1.0f);
      if (j.op == conc_forward_mask) r.mask.assign(mask_bytes, 0xEE);
      r.status = simdrop_forward_f32(j.x.data(), y.data(), j.n, &j.p, r.mask.empty() ? nullptr : r.mask.data());
      r.out = conc_bytes(y);
      break;
    }
    case conc_backward: {
      std::vector<float> v = j.x;  // in place
      r.status = simdrop_backward_f32(v.data(), v.data(), j.n, &j.p);
      r.out = conc_bytes(v);
      break;
    }
    case conc_backward_mask: {
      std::vector<float> dx(j.n, -1.0f);
      r.status = simdrop_backward_mask_f32(j.x.data(), j.mask_in.data(), dx.data(), j.n, &j.p);
      r.out = conc_bytes(dx);
      break;
    }
    case conc_mask:
      r.mask.assign(mask_bytes, 0xEE);
      r.status = simdrop_mask(r.mask.data(), j.n, &j.p);
      break;
    case conc_fill: {
      std::vector<uint32_t> words(j.n, 0xEEEEEEEEu);
      r.status = simdrop_fill_u32(words.data(), j.n, &j.p);
      r.out = conc_bytes(words);
      break;
    }
    case conc_forward_2d: {
      // Strided rows, padded; the padding must stay as it was.
      const size_t ldx = j.cols + j.ld_pad, ldy = j.cols + 2 * j.ld_pad, ldm = (j.cols + 7) / 8 + j.ld_pad;
      std::vector<float> x(j.rows * ldx), y(j.rows * ldy, -1.0f);
      for (size_t i = 0; i < x.size(); ++i) x[i] = j.x[i % j.x.size()];
      r.mask.assign(j.rows * ldm, 0xEE);
      r.status = simdrop_forward_2d_f32(x.data(), ldx, y.data(), ldy, j.rows, j.cols, &j.p, r.mask.data(), ldm);
      r.out = conc_bytes(y);
      break;
    }
    case conc_channels: {
      std::vector<float> y(j.n, -1.0f);
      r.mask.assign((j.batch * j.channels + 7) / 8, 0xEE);
      r.status = simdrop_forward_channels_f32(j.x.data(), y.data(), j.batch, j.channels, j.spatial, j.channels_last,
                                              &j.p, r.mask.data());
      r.out = conc_bytes(y);
      break;
    }
    case conc_bias_dropout_add: {
      std::vector<float> y(j.n, -1.0f);
      r.mask.assign(mask_bytes, 0xEE);
      r.status = simdrop_bias_dropout_add_f32(j.x.data(), j.bias.data(), j.residual.data(), y.data(), j.rows, j.cols,
                                              &j.p, r.mask.data());
      r.out = conc_bytes(y);
      break;
    }
    case conc_forward_f64: {
      std::vector<double> x(j.x.begin(), j.x.end()), y(j.n, -1.0);
      r.mask.assign(mask_bytes, 0xEE);
      r.status = simdrop_forward_f64(x.data(), y.data(), j.n, &j.p, r.mask.data());
      r.out = conc_bytes(y);
      break;
    }
    case conc_forward_bf16:
    case conc_backward_f16: {
      std::vector<uint16_t> x(j.n), y(j.n, 0xEEEE);
      for (size_t i = 0; i < j.n; ++i) {
        uint32_t bits;
        std::memcpy(&bits, &j.x[i], 4);
        x[i] = uint16_t(bits >> (j.op == conc_forward_bf16 ? 16 : 13));
      }
      if (j.op == conc_forward_bf16) {
        r.mask.assign(mask_bytes, 0xEE);
        r.status = simdrop_forward_bf16(x.data(), y.data(), j.n, &j.p, r.mask.data());
      } else {
        r.status = simdrop_backward_f16(x.data(), y.data(), j.n, &j.p);
      }
      r.out = conc_bytes(y);
      break;
    }
    default: break;
  }
  return r;
}

uint64_t conc_mix(uint64_t v) {
  v = (v ^ (v >> 31)) * 0x7FB5D329728EA185ull;
  v = (v ^ (v >> 27)) * 0x81DADEF4BC2DD44Dull;
  return v ^ (v >> 33);
}

// Sets the process-wide switches for the scope, then goes back to the defaults.
struct conc_switches {
  conc_switches(const char* isa, int threads) {
    REQUIRE(simdrop_set_isa(isa) == SIMDROP_OK);
    REQUIRE(simdrop_set_num_threads(threads) == SIMDROP_OK);
  }
  ~conc_switches() {
    simdrop_set_isa("auto");
    simdrop_set_num_threads(0);
  }
};

// `count` jobs covering every operation, both generators, both widths and a range
// of sizes; every other job (or every job, with all_large) has `large` elements, so
// that the library's own OpenMP tiling runs too. Each comes with its serial
// result on the scalar reference.
std::vector<conc_job> conc_make_jobs(size_t count, uint64_t salt, size_t large, bool all_large = false) {
  static const size_t sizes[] = {0, 1, 17, 999, 4097, 70001};
  static const float keep[] = {0.9f, 0.5f, 0.1f, 1.0f, 0.0f, 0.77f};
  std::vector<conc_job> jobs;
  for (size_t i = 0; i < count; ++i) {
    conc_job j;
    const uint64_t h = conc_mix(salt * 1000 + i);
    j.op = conc_op(i % conc_op_count);
    j.n = all_large || (i + i / conc_op_count) % 2 == 1 ? large + h % 1000 : sizes[h % 6];
    switch (j.op) {
      case conc_forward_2d:
      case conc_bias_dropout_add:
        j.cols = 1 + size_t(h >> 40) % 300;
        j.rows = j.n / j.cols;
        j.n = j.rows * j.cols;
        j.ld_pad = 1 + size_t(h >> 50) % 5;
        break;
      case conc_channels:
        j.channels = 1 + size_t(h >> 40) % 64;
        j.spatial = 1 + size_t(h >> 50) % 49;
        j.batch = j.n / (j.channels * j.spatial);
        j.n = j.batch * j.channels * j.spatial;
        j.channels_last = int((h >> 60) & 1);
        break;
      default: break;
    }
    j.p = simdrop_params_default(keep[(h >> 8) % 6], conc_mix(h));
    j.p.generator = (h >> 16) % 2 ? SIMDROP_XOSHIRO128PP : SIMDROP_PHILOX4X32_10;
    j.p.threshold_bits = 8u << ((h >> 17) % 3);  // 8, 16 or 32
    j.p.stream = h >> 20;
    const uint64_t offsets[] = {0, 5, (uint64_t(1) << 40) - 3000, uint64_t(0) - j.n, h % 100000};
    j.p.offset = offsets[(h >> 24) % 5];
    j.x.resize(std::max<size_t>(j.n, 1));
    for (size_t e = 0; e < j.x.size(); ++e) j.x[e] = float(int32_t(conc_mix(h + e))) * 0x1p-24f;
    j.bias.resize(std::max<size_t>(j.cols, 1));
    for (size_t e = 0; e < j.bias.size(); ++e) j.bias[e] = float(e % 7) - 3.0f;
    j.residual.resize(std::max<size_t>(j.n, 1));
    for (size_t e = 0; e < j.residual.size(); ++e) j.residual[e] = float(e % 11) * 0.5f;
    j.mask_in.resize((j.n + 7) / 8 + 1);
    for (size_t e = 0; e < j.mask_in.size(); ++e) j.mask_in[e] = uint8_t(conc_mix(h ^ e));
    jobs.push_back(std::move(j));
  }
  conc_switches serial("scalar", 1);
  for (conc_job& j : jobs) {
    j.expected = conc_run(j);
    CAPTURE(j.op, j.n);
    REQUIRE(j.expected.status == SIMDROP_OK);
  }
  return jobs;
}

std::vector<std::string> conc_supported_isas() {
  std::vector<std::string> names;
  for (size_t i = 0; i < simdrop_isa_count(); ++i)
    if (simdrop_isa_supported(simdrop_isa_name(i))) names.emplace_back(simdrop_isa_name(i));
  return names;
}

// Runs every job `rounds` times, each worker in its own order; returns mismatches.
size_t conc_run_workers(const std::vector<conc_job>& jobs, int workers, int rounds) {
  std::atomic<size_t> mismatches{0};
  std::vector<std::thread> pool;
  for (int w = 0; w < workers; ++w)
    pool.emplace_back([&, w] {
      for (int r = 0; r < rounds; ++r)
        for (size_t k = 0; k < jobs.size(); ++k) {
          const conc_job& j = jobs[(k * 7 + size_t(w) * 5 + size_t(r)) % jobs.size()];
          if (!(conc_run(j) == j.expected)) mismatches.fetch_add(1);
        }
    });
  for (std::thread& t : pool) t.join();
  return mismatches.load();
}

}  // namespace

TEST_CASE("many threads calling every operation at once get the serial results", "[threads]") {
  // Every operation of the C API: forward (with and without mask), backward in
  // place, backward from a mask, mask, fill, 2-D strided, channels, fused
  // bias-dropout-add, f64, bf16 and f16.
  const std::vector<conc_job> jobs = conc_make_jobs(24, 1, size_t(1) << 17);
  SECTION("detected implementation, OpenMP's default thread count") {
    CHECK(conc_run_workers(jobs, 6, 2) == 0);
  }
  SECTION("each supported implementation forced, two library threads per call") {
    for (const std::string& isa : conc_supported_isas()) {
      CAPTURE(isa);
      conc_switches forced(isa.c_str(), 2);
      CHECK(conc_run_workers(jobs, 4, 1) == 0);
    }
  }
}

TEST_CASE("simdrop_set_isa and simdrop_set_num_threads while other threads compute", "[threads]") {
  // Every implementation gives the same bits, so a call finishing on whichever
  // implementation it started with must still match the serial result.
  const std::vector<conc_job> jobs = conc_make_jobs(18, 2, size_t(1) << 17);
  const std::vector<std::string> isas = conc_supported_isas();
  std::atomic<bool> done{false};
  std::atomic<size_t> switches{0}, bad_switch{0}, bad_name{0};
  std::thread switcher([&] {
    std::vector<const char*> names;
    for (const std::string& s : isas) names.push_back(s.c_str());
    names.push_back("auto");
    for (size_t k = 0; !done.load(std::memory_order_relaxed); ++k) {
      if (simdrop_set_isa(names[k % names.size()]) != SIMDROP_OK) bad_switch.fetch_add(1);
      if (simdrop_set_num_threads(int(k % 4)) != SIMDROP_OK) bad_switch.fetch_add(1);
      const char* active = simdrop_active_isa();
      if (std::none_of(isas.begin(), isas.end(), [&](const std::string& s) { return s == active; }))
        bad_name.fetch_add(1);
      switches.fetch_add(1, std::memory_order_relaxed);
      std::this_thread::yield();
    }
  });
  const size_t mismatches = conc_run_workers(jobs, 4, 2);
  done.store(true);
  switcher.join();
  simdrop_set_isa("auto");
  simdrop_set_num_threads(0);
  CHECK(mismatches == 0);
  CHECK(bad_switch == 0);
  CHECK(bad_name == 0);
  CHECK(switches > 0);
  INFO("switches made while computing: " << switches.load());
}

TEST_CASE("calls from inside the caller's OpenMP parallel region run serially on their thread, exact", "[threads]") {
#if defined(_OPENMP)
  const std::vector<conc_job> jobs = conc_make_jobs(18, 3, size_t(1) << 17);
  std::atomic<size_t> mismatches{0};
  SECTION("every thread of a parallel region runs every job") {
#pragma omp parallel num_threads(4)
    {
      const size_t t = size_t(omp_get_thread_num());
      for (size_t k = 0; k < jobs.size(); ++k) {
        const conc_job& j = jobs[(k + 3 * t) % jobs.size()];
        if (!(conc_run(j) == j.expected)) mismatches.fetch_add(1);
      }
    }
    CHECK(mismatches == 0);
  }
  SECTION("a parallel for over jobs, with nested parallelism allowed and a library thread count set") {
    const int levels = omp_get_max_active_levels();
    omp_set_max_active_levels(2);
    REQUIRE(simdrop_set_num_threads(3) == SIMDROP_OK);
#pragma omp parallel for num_threads(3) schedule(dynamic)
    for (int k = 0; k < int(jobs.size()); ++k)
      if (!(conc_run(jobs[size_t(k)]) == jobs[size_t(k)].expected)) mismatches.fetch_add(1);
    simdrop_set_num_threads(0);
    omp_set_max_active_levels(levels);
    CHECK(mismatches == 0);
  }
  SECTION("std::threads that each open their own parallel region") {
    std::vector<std::thread> pool;
    for (int w = 0; w < 3; ++w)
      pool.emplace_back([&, w] {
#pragma omp parallel num_threads(2)
        for (size_t k = size_t(omp_get_thread_num()); k < jobs.size(); k += 2) {
          const conc_job& j = jobs[(k + size_t(w)) % jobs.size()];
          if (!(conc_run(j) == j.expected)) mismatches.fetch_add(1);
        }
      });
    for (std::thread& t : pool) t.join();
    CHECK(mismatches == 0);
  }
#else
  WARN("this test file was compiled without OpenMP: the caller-side parallel regions are not exercised");
#endif
}

TEST_CASE("results do not depend on the library's thread count", "[threads]") {
  const std::vector<conc_job> jobs = conc_make_jobs(12, 4, (size_t(1) << 18) + 12345, true);
  for (int threads : {1, 2, 3, 4, 7, 0}) {
    CAPTURE(threads);
    REQUIRE(simdrop_set_num_threads(threads) == SIMDROP_OK);
    CHECK(simdrop_get_num_threads() == threads);
    for (const conc_job& j : jobs) {
      CAPTURE(j.op, j.n, j.p.offset);
      CHECK(conc_run(j) == j.expected);
    }
  }
  simdrop_set_num_threads(0);
  CHECK(simdrop_set_num_threads(-1) == SIMDROP_ERR_NUM_THREADS);
  CHECK(simdrop_get_num_threads() == 0);
}
