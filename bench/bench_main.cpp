// main() of simdrop_bench: reads the suite's own flags (sizes, thread counts),
// registers every file's rows, and runs Google Benchmark with reporters that
// add the roof_fraction counter.
//
// Own flags (also settable by environment variable; the flag wins):
//   --simdrop_sizes=4K,32K,256K,4M,64M   SIMDROP_BENCH_SIZES   elements per call (K, M = 1024, 1024^2)
//   --simdrop_threads=1,all              SIMDROP_BENCH_THREADS "all" = omp_get_max_threads()
//   --simdrop_extra_sizes=32K,64M        SIMDROP_BENCH_EXTRA_SIZES  sizes of the mask/backward/fill rows
//                                        (only those also in the size list run)
// Everything else is Google Benchmark's (--benchmark_filter, --benchmark_out, ...).
//
// roof_fraction: a row's GB/s divided by the best copy roof (the faster of the
// memcpy and streaming-store copies) at the same size and thread count in this
// run. Rows of a size run after that size's roof rows, so the counter is known
// when a row is reported; it is left out where the roof was not measured (a
// filter excluded it, or random interleaving ran it later) and on the copy rows
// that ran before the roof was complete. bench/report.py recomputes it from the
// JSON for every row in any case.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "bench_common.hpp"

namespace simdrop_bench {
namespace {

config the_config;

int max_threads() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> items;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) items.push_back(item);
  return items;
}

size_t parse_size(const std::string& text) {
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  size_t multiplier = 1;
  if (end && (*end == 'K' || *end == 'k')) multiplier = size_t(1) << 10, ++end;
  else if (end && (*end == 'M' || *end == 'm')) multiplier = size_t(1) << 20, ++end;
  else if (end && (*end == 'G' || *end == 'g')) multiplier = size_t(1) << 30, ++end;
  if (end == text.c_str() || *end != '\0' || value == 0) {
    std::fprintf(stderr, "simdrop_bench: bad size \"%s\"\n", text.c_str());
    std::exit(2);
  }
  return size_t(value) * multiplier;
}

std::vector<size_t> parse_sizes(const std::string& list) {
  std::vector<size_t> sizes;
  for (const std::string& item : split(list)) sizes.push_back(parse_size(item));
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  return sizes;
}

std::vector<int> parse_threads(const std::string& list, int all) {
  std::vector<int> threads;
  for (const std::string& item : split(list)) {
    if (item == "all") {
      threads.push_back(all);
      continue;
    }
    const int t = std::atoi(item.c_str());
    if (t <= 0) {
      std::fprintf(stderr, "simdrop_bench: bad thread count \"%s\"\n", item.c_str());
      std::exit(2);
    }
    threads.push_back(t);
  }
  std::sort(threads.begin(), threads.end());
  threads.erase(std::unique(threads.begin(), threads.end()), threads.end());
  return threads;
}

// Takes --simdrop_<name>=value out of argv (Google Benchmark rejects unknown flags).
std::string take_flag(int* argc, char** argv, const char* name, const char* env, const char* fallback) {
  std::string value = fallback;
  if (const char* e = std::getenv(env); e && *e) value = e;
  const std::string prefix = std::string("--simdrop_") + name + "=";
  int kept = 1;
  for (int i = 1; i < *argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0)
      value = argv[i] + prefix.size();
    else
      argv[kept++] = argv[i];
  }
  *argc = kept;
  argv[kept] = nullptr;
  return value;
}

std::string find_benchmark_flag(int argc, char** argv, const char* name) {
  const std::string prefix = std::string("--") + name + "=";
  std::string value;
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) value = argv[i] + prefix.size();
  return value;
}

// "copy/memcpy/n:4096/omp:1" -> key (4096, 1); false when the name has no n: or omp: field.
bool row_key(const std::string& name, std::pair<size_t, int>* key) {
  size_t n = 0;
  int threads = 0;
  bool have_n = false, have_threads = false;
  std::stringstream in(name);
  std::string field;
  while (std::getline(in, field, '/')) {
    if (field.rfind("n:", 0) == 0) n = std::strtoull(field.c_str() + 2, nullptr, 10), have_n = true;
    if (field.rfind("omp:", 0) == 0) threads = std::atoi(field.c_str() + 4), have_threads = true;
  }
  *key = {n, threads};
  return have_n && have_threads;
}

// The copy rows that make up the roof; the roof of a (size, threads) is known
// once all of them have been measured.
const char* const roof_rows[] = {"copy/memcpy/", "copy/stream/"};
constexpr size_t roof_row_count = sizeof(roof_rows) / sizeof(roof_rows[0]);

int roof_index(const std::string& name) {
  for (size_t i = 0; i < roof_row_count; ++i)
    if (name.rfind(roof_rows[i], 0) == 0) return int(i);
  return -1;
}

// Wraps a reporter and adds roof_fraction to every run whose roof is known.
class roof_fraction_reporter : public benchmark::BenchmarkReporter {
 public:
  explicit roof_fraction_reporter(benchmark::BenchmarkReporter* inner) : inner_(inner) {}

  bool ReportContext(const Context& context) override {
    inner_->SetOutputStream(&GetOutputStream());
    inner_->SetErrorStream(&GetErrorStream());
    return inner_->ReportContext(context);
  }

  void ReportRuns(const std::vector<Run>& runs) override {
    std::vector<Run> annotated = runs;
    observe_roof(annotated);
    for (Run& run : annotated) annotate(run);
    inner_->ReportRuns(annotated);
  }

  void Finalize() override { inner_->Finalize(); }

 private:
  struct roof_entry {
    double gb_per_second[roof_row_count] = {};
    bool measured[roof_row_count] = {};
    bool complete() const {
      return std::all_of(std::begin(measured), std::end(measured), [](bool m) { return m; });
    }
    double best() const { return *std::max_element(std::begin(gb_per_second), std::end(gb_per_second)); }
  };

  static double gb_per_second(const Run& run) {
    auto it = run.counters.find("GB_per_second");
    return it == run.counters.end() ? 0.0 : double(it->second);
  }

  // The roof value of a copy row: its median aggregate, or with one repetition the run itself.
  void observe_roof(const std::vector<Run>& runs) {
    std::vector<double> values;
    double median = 0.0;
    bool have_median = false;
    std::pair<size_t, int> key;
    int index = -1;
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const std::string name = run.run_name.function_name;
      index = roof_index(name);
      if (index < 0 || !row_key(name, &key)) return;
      if (run.run_type == Run::RT_Aggregate) {
        if (run.aggregate_name == "median") median = gb_per_second(run), have_median = true;
      } else {
        values.push_back(gb_per_second(run));
      }
    }
    if (index < 0) return;
    if (!have_median) {
      if (values.empty()) return;
      std::sort(values.begin(), values.end());
      const size_t m = values.size();
      median = m % 2 ? values[m / 2] : 0.5 * (values[m / 2 - 1] + values[m / 2]);
    }
    roof_entry& entry = roofs_[key];
    entry.gb_per_second[index] = median;
    entry.measured[index] = true;
  }

  void annotate(Run& run) const {
    if (run.error_occurred) return;
    // The coefficient of variation is a ratio already; a fraction of it means nothing.
    if (run.run_type == Run::RT_Aggregate && run.aggregate_unit == benchmark::kPercentage) return;
    std::pair<size_t, int> key;
    if (!row_key(run.run_name.function_name, &key)) return;
    auto it = roofs_.find(key);
    if (it == roofs_.end() || !it->second.complete() || it->second.best() <= 0.0) return;
    run.counters["roof_fraction"] = benchmark::Counter(gb_per_second(run) / it->second.best());
  }

  benchmark::BenchmarkReporter* inner_;
  std::map<std::pair<size_t, int>, roof_entry> roofs_;
};

std::string join_sizes(const std::vector<size_t>& v) {
  std::string s;
  for (size_t x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}

}  // namespace

const config& current_config() { return the_config; }

}  // namespace simdrop_bench

int main(int argc, char** argv) {
  using namespace simdrop_bench;
  config& cfg = the_config;
  cfg.all_threads = max_threads();
  cfg.sizes = parse_sizes(take_flag(&argc, argv, "sizes", "SIMDROP_BENCH_SIZES", "4K,32K,256K,4M,64M"));
  cfg.threads = parse_threads(take_flag(&argc, argv, "threads", "SIMDROP_BENCH_THREADS", "1,all"),
                              cfg.all_threads);
  const std::vector<size_t> extra =
      parse_sizes(take_flag(&argc, argv, "extra_sizes", "SIMDROP_BENCH_EXTRA_SIZES", "32K,64M"));
  for (size_t n : extra)
    if (std::find(cfg.sizes.begin(), cfg.sizes.end(), n) != cfg.sizes.end()) cfg.extra_sizes.push_back(n);

  const std::string out_format = find_benchmark_flag(argc, argv, "benchmark_out_format");
  const bool have_out = !find_benchmark_flag(argc, argv, "benchmark_out").empty();

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  std::string isas;
  for (const std::string& name : supported_isas()) isas += (isas.empty() ? "" : ",") + name;
  simdrop_set_isa("auto");
  benchmark::AddCustomContext("simdrop_isas", isas);
  benchmark::AddCustomContext("simdrop_auto_isa", simdrop_active_isa());
  benchmark::AddCustomContext("simdrop_keep_prob", std::to_string(keep_prob));
  benchmark::AddCustomContext("simdrop_sizes", join_sizes(cfg.sizes));
  benchmark::AddCustomContext("simdrop_extra_sizes", join_sizes(cfg.extra_sizes));
  benchmark::AddCustomContext("simdrop_all_threads", std::to_string(cfg.all_threads));
  std::string threads;
  for (int t : cfg.threads) threads += (threads.empty() ? "" : ",") + std::to_string(t);
  benchmark::AddCustomContext("simdrop_threads", threads);

  run_registrars(cfg);

  roof_fraction_reporter display(benchmark::CreateDefaultDisplayReporter());
  // The file gets roof_fraction too when it is JSON (the report's input) or
  // console text; any other format is left to Google Benchmark as it is.
  std::unique_ptr<benchmark::BenchmarkReporter> file_inner;
  if (out_format.empty() || out_format == "json")
    file_inner = std::make_unique<benchmark::JSONReporter>();
  else if (out_format == "console")
    file_inner = std::make_unique<benchmark::ConsoleReporter>(benchmark::ConsoleReporter::OO_None);
  std::unique_ptr<roof_fraction_reporter> file;
  if (have_out && file_inner) file = std::make_unique<roof_fraction_reporter>(file_inner.get());

  benchmark::RunSpecifiedBenchmarks(&display, file.get());
  benchmark::Shutdown();
  simdrop_set_isa("auto");
  simdrop_set_num_threads(0);
  return 0;
}
