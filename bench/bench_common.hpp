// Shared pieces of the simdrop_bench suite: the run's configuration (sizes and
// thread counts, overridable for a quick run), the buffers (allocated and
// first-touched once per size, outside timing), row registration, and the
// throughput counters every row carries.
//
// A new bench_<topic>.cpp (picked up by bench/CMakeLists.txt's glob) adds rows
// like this:
//
//   static void register_rows(const simdrop_bench::config& cfg) {
//     for (size_t n : cfg.sizes)
//       for (int t : cfg.threads)
//         simdrop_bench::add_row("my_call/avx512/philox/32bit", n, t, 8.0,
//                                [=](benchmark::State& s) { ... });
//   }
//   SIMDROP_BENCH_REGISTRAR(50, register_rows);
//
// Row names are "<call>/<field>/.../n:<elements>/omp:<threads>"; bench/report.py
// parses them, and the roof_fraction counter is matched on (n, omp).
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "simdrop/simdrop.h"

namespace simdrop_bench {

// keep_prob of every dropout row: 0.9 (p = 0.1) is the value most transformer
// training uses, so it is the realistic one to time.
inline constexpr float keep_prob = 0.9f;

struct config {
  std::vector<size_t> sizes;  // elements (floats) per call
  std::vector<int> threads;   // OpenMP threads; "all" resolves to omp_get_max_threads()
  std::vector<size_t> extra_sizes;  // sizes for the smaller set of rows (mask, backward, fill)
  int all_threads = 1;              // what "all" meant in this run
};

const config& current_config();

// Buffers of one size, 64-byte aligned, written once before any timing so the
// pages exist. `random` is the naive two-pass loop's scratch buffer and is
// allocated only when asked for.
struct buffers {
  float* x = nullptr;       // input, values in [1, 2)
  float* y = nullptr;       // output
  uint8_t* mask = nullptr;  // ceil(n / 8) bytes
  float* random = nullptr;  // naive two-pass scratch (see random_scratch)
};
buffers& buffers_for(size_t n);
float* random_scratch(size_t n);

// Adds one row named "<name>/n:<n>/omp:<threads>" (measured in real time,
// since OpenMP workers are not in the main thread's CPU time). The counters
// use bytes_per_element for GB/s. Call it from a registrar.
using row_body = std::function<void(benchmark::State&)>;
void add_row(const std::string& name, size_t n, int threads, double bytes_per_element, row_body body);

// Sets elements_per_second and GB_per_second (decimal GB, bytes_per_element per
// element) from the iterations done; call after the timing loop.
void set_throughput_counters(benchmark::State& state, size_t n, double bytes_per_element);

// The paired roof (bench_roof.cpp): the faster of the memcpy and streaming
// copies of the same buffers at size n and `threads` threads, in GB/s (8
// bytes per element), timed for about `seconds` right now. add_row times it
// after every repetition of every row that is not itself a copy, and sets the
// counters paired_roof_GB_per_second and paired_roof_fraction (the row's GB/s
// over it): the fraction of a roof measured next to the row, repetition by
// repetition, not minutes before (the roof of a shared machine moves).
double paired_copy_gbps(size_t n, int threads, double seconds);

// Forces implementation `isa` and `threads` OpenMP threads for simdrop calls;
// on failure marks the row skipped with the reason and returns false.
bool use_simdrop(benchmark::State& state, const char* isa, int threads);

// The implementations this build has and this CPU runs, best first (scalar last).
std::vector<std::string> supported_isas();

const char* generator_name(simdrop_generator g);

// Registration hooks, run in ascending `order` once the configuration is known:
// 0 roof, 10 naive loops, 20 simdrop core rows, 50 and up for other files.
using registrar = void (*)(const config&);
bool add_registrar(int order, const char* name, registrar fn);
// Runs every registrar in order, then hands the rows to Google Benchmark sorted
// by size and, within a size, by registrar order (bench_main.cpp calls it once
// the configuration is parsed).
void run_registrars(const config& cfg);

#define SIMDROP_BENCH_CONCAT_INNER(a, b) a##b
#define SIMDROP_BENCH_CONCAT(a, b) SIMDROP_BENCH_CONCAT_INNER(a, b)
#define SIMDROP_BENCH_REGISTRAR(order, fn)                                     \
  static const bool SIMDROP_BENCH_CONCAT(simdrop_bench_registrar_, __LINE__) = \
      ::simdrop_bench::add_registrar(order, #fn, fn)

}  // namespace simdrop_bench
