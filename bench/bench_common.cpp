// Buffers, row registration and counters shared by every bench_*.cpp file
// (see bench_common.hpp for how a file adds rows).
#include "bench_common.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <utility>

namespace simdrop_bench {
namespace {

struct aligned_free {
  void operator()(void* p) const { std::free(p); }
};
using block = std::unique_ptr<void, aligned_free>;

block allocate(size_t bytes) {
  constexpr size_t alignment = 64;
  const size_t rounded = (bytes + alignment - 1) / alignment * alignment;
  void* p = std::aligned_alloc(alignment, rounded == 0 ? alignment : rounded);
  if (!p) throw std::bad_alloc();
  return block(p);
}

struct owned_buffers {
  buffers view;
  std::vector<block> blocks;
};

std::map<size_t, owned_buffers>& pool() {
  static std::map<size_t, owned_buffers> buffers_by_size;
  return buffers_by_size;
}

// Rows are collected first and handed to Google Benchmark sorted by size, then
// by registrar order: every size starts with its copy roof, and a row runs
// close in time to the roof it is compared with.
struct pending_row {
  std::string name;
  size_t n = 0;
  int order = 0;
  size_t sequence = 0;
  row_body body;
};

std::vector<pending_row>& pending_rows() {
  static std::vector<pending_row> rows;
  return rows;
}

int current_order = 0;

std::vector<std::pair<int, registrar>>& registrars() {
  static std::vector<std::pair<int, registrar>> list;
  return list;
}

}  // namespace

buffers& buffers_for(size_t n) {
  auto& entry = pool()[n];
  if (!entry.view.x) {
    entry.blocks.push_back(allocate(n * sizeof(float)));
    entry.view.x = static_cast<float*>(entry.blocks.back().get());
    entry.blocks.push_back(allocate(n * sizeof(float)));
    entry.view.y = static_cast<float*>(entry.blocks.back().get());
    entry.blocks.push_back(allocate((n + 7) / 8));
    entry.view.mask = static_cast<uint8_t*>(entry.blocks.back().get());
    // First touch: every page is written before any row is timed.
    for (size_t i = 0; i < n; ++i) entry.view.x[i] = 1.0f + float(i % 1024) / 1024.0f;
    std::memset(entry.view.y, 0, n * sizeof(float));
    std::memset(entry.view.mask, 0, (n + 7) / 8);
  }
  return entry.view;
}

float* random_scratch(size_t n) {
  buffers& b = buffers_for(n);
  if (!b.random) {
    auto& entry = pool()[n];
    entry.blocks.push_back(allocate(n * sizeof(float)));
    b.random = static_cast<float*>(entry.blocks.back().get());
    std::memset(b.random, 0, n * sizeof(float));
  }
  return b.random;
}

void add_row(const std::string& name, size_t n, int threads, double bytes_per_element, row_body body) {
  pending_row row;
  row.name = name + "/n:" + std::to_string(n) + "/omp:" + std::to_string(threads);
  row.n = n;
  row.order = current_order;
  row.sequence = pending_rows().size();
  const bool is_copy = name.rfind("copy/", 0) == 0;
  row.body = [n, threads, bytes_per_element, body, is_copy](benchmark::State& state) {
    const auto start = std::chrono::steady_clock::now();
    body(state);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    set_throughput_counters(state, n, bytes_per_element);
    if (is_copy || state.error_occurred() || state.iterations() == 0 || seconds <= 0) return;
    // The roof right after this repetition, for about half its time (0.01-0.2 s).
    const double row_gbps = double(n) * double(state.iterations()) * bytes_per_element / 1e9 / seconds;
    const double roof = paired_copy_gbps(n, threads, std::min(0.2, std::max(0.01, seconds / 2)));
    state.counters["paired_roof_GB_per_second"] = roof;
    state.counters["paired_roof_fraction"] = roof > 0 ? row_gbps / roof : 0.0;
  };
  pending_rows().push_back(std::move(row));
}

void set_throughput_counters(benchmark::State& state, size_t n, double bytes_per_element) {
  const double elements = double(n) * double(state.iterations());
  state.counters["elements_per_second"] = benchmark::Counter(elements, benchmark::Counter::kIsRate);
  state.counters["GB_per_second"] =
      benchmark::Counter(elements * bytes_per_element / 1e9, benchmark::Counter::kIsRate);
}

bool use_simdrop(benchmark::State& state, const char* isa, int threads) {
  int status = simdrop_set_isa(isa);
  if (status == SIMDROP_OK) status = simdrop_set_num_threads(threads);
  if (status != SIMDROP_OK) {
    state.SkipWithError(simdrop_status_string(status));
    return false;
  }
  return true;
}

std::vector<std::string> supported_isas() {
  std::vector<std::string> names;
  for (size_t i = 0; i < simdrop_isa_count(); ++i) {
    const char* name = simdrop_isa_name(i);
    if (name && simdrop_isa_supported(name)) names.emplace_back(name);
  }
  return names;
}

const char* generator_name(simdrop_generator g) {
  switch (g) {
    case SIMDROP_PHILOX4X32_10: return "philox";
    case SIMDROP_XOSHIRO128PP: return "xoshiro";
  }
  return "unknown";
}

bool add_registrar(int order, const char*, registrar fn) {
  registrars().emplace_back(order, fn);
  return true;
}

void run_registrars(const config& cfg) {
  auto list = registrars();
  std::stable_sort(list.begin(), list.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& entry : list) {
    current_order = entry.first;
    entry.second(cfg);
  }
  auto& rows = pending_rows();
  std::sort(rows.begin(), rows.end(), [](const pending_row& a, const pending_row& b) {
    if (a.n != b.n) return a.n < b.n;
    if (a.order != b.order) return a.order < b.order;
    return a.sequence < b.sequence;
  });
  for (const pending_row& row : rows)
    benchmark::RegisterBenchmark(row.name.c_str(), row.body)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  rows.clear();
}

}  // namespace simdrop_bench
