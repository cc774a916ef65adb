// `simdrop bench`: the speed of one call (or a default set) on one
// implementation, next to the paired copy roof (paired_roof.hpp), measured as
// the benchmark suite measures it: each repetition times the call for a while
// (a fresh stream every call, as every training step draws a new mask), then
// the copy of the same n floats right away; a row reports the medians over its
// repetitions of the time per call and of the call's GB/s over that
// repetition's roof. Row names follow bench/: "<call>/<isa>/<generator>/
// <bits>bit/n:<n>/omp:<threads>". --json writes Google Benchmark's JSON shape
// (context; benchmarks with name, real_time, time_unit, items_per_second, one
// entry per repetition and a median aggregate), which its compare.py reads.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <unistd.h>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "commands.hpp"
#include "json_writer.hpp"
#include "paired_roof.hpp"

namespace simdrop_cli {
namespace {

// keep_prob of every row: 0.9 (p = 0.1), the value most transformer training uses.
constexpr float bench_keep_prob = 0.9f;
constexpr uint64_t bench_seed = 0x5eed5eedULL;

// ---- buffers: 64-byte aligned, written once (first touch) before any timing ----

struct free_deleter {
  void operator()(void* p) const { std::free(p); }
};

template <class T>
std::unique_ptr<T[], free_deleter> allocate(size_t count, T fill) {
  const size_t bytes = (std::max<size_t>(count, 1) * sizeof(T) + 63) / 64 * 64;
  T* p = static_cast<T*>(std::aligned_alloc(64, bytes));
  if (!p) throw runtime_failure("bench: cannot allocate " + std::to_string(bytes) + " bytes");
  for (size_t i = 0; i < count; ++i) p[i] = fill;
  return std::unique_ptr<T[], free_deleter>(p);
}

struct buffers {
  size_t n = 0;
  std::unique_ptr<float[], free_deleter> x, y, residual, bias;
  std::unique_ptr<double[], free_deleter> x64, y64;
  std::unique_ptr<uint16_t[], free_deleter> x16, y16;
  std::unique_ptr<uint8_t[], free_deleter> mask;

  explicit buffers(size_t elements) : n(elements) {
    x = allocate<float>(n, 1.5f);
    y = allocate<float>(n, 0.0f);
    mask = allocate<uint8_t>((n + 7) / 8, 0);
  }
  // The buffers only some calls use, made on first need: other element types
  // (double, or the 16-bit patterns of bf16 and f16) and the fused call's inputs.
  template <class T>
  std::pair<const T*, T*> typed() {
    if constexpr (std::is_same_v<T, double>) {
      if (!x64) x64 = allocate<double>(n, 1.5), y64 = allocate<double>(n, 0.0);
      return {x64.get(), y64.get()};
    } else {
      if (!x16) x16 = allocate<uint16_t>(n, 0x3FC0), y16 = allocate<uint16_t>(n, 0);  // 1.5 in bf16
      return {x16.get(), y16.get()};
    }
  }
  void need_residual() {
    if (!residual) residual = allocate<float>(n, 0.25f), bias = allocate<float>(n, 0.125f);
  }
};

// ---- the calls ----

struct call_kind {
  const char* name;
  double bytes_per_element;  // traffic per element for GB/s, as bench/ counts it
  bool has_generator, has_width;
  std::function<int(buffers&, const simdrop_params&)> run;
  std::function<void(buffers&, const simdrop_params&)> prepare;  // outside timing
};

void no_preparation(buffers&, const simdrop_params&) {}

// bias_dropout_add's rows: 1024 columns where n allows, else one row.
size_t bias_columns(size_t n) { return n % 1024 == 0 ? 1024 : n; }

// forward on another element type: read and write sizeof(T) bytes per element.
template <class T>
call_kind typed_forward(const char* name, int (*forward)(const T*, T*, size_t, const simdrop_params*, uint8_t*)) {
  return {name, 2.0 * sizeof(T), true, true,
          [forward](buffers& b, const simdrop_params& p) {
            const std::pair<const T*, T*> xy = b.typed<T>();
            return forward(xy.first, xy.second, b.n, &p, nullptr);
          },
          [](buffers& b, const simdrop_params&) { b.typed<T>(); }};
}

const std::vector<call_kind>& call_kinds() {
  static const std::vector<call_kind> kinds = {
      {"forward", 8.0, true, true,
       [](buffers& b, const simdrop_params& p) { return simdrop_forward_f32(b.x.get(), b.y.get(), b.n, &p, nullptr); },
       no_preparation},
      {"forward_mask", 8.125, true, true,
       [](buffers& b, const simdrop_params& p) {
         return simdrop_forward_f32(b.x.get(), b.y.get(), b.n, &p, b.mask.get());
       },
       no_preparation},
      {"backward", 8.0, true, true,
       [](buffers& b, const simdrop_params& p) { return simdrop_backward_f32(b.x.get(), b.y.get(), b.n, &p); },
       no_preparation},
      {"backward_mask", 8.125, false, false,
       [](buffers& b, const simdrop_params& p) {
         return simdrop_backward_mask_f32(b.x.get(), b.mask.get(), b.y.get(), b.n, &p);
       },
       [](buffers& b, const simdrop_params& p) {
         if (simdrop_mask(b.mask.get(), b.n, &p) != SIMDROP_OK) throw runtime_failure("bench: simdrop_mask failed");
       }},
      {"mask", 0.125, true, true,
       [](buffers& b, const simdrop_params& p) { return simdrop_mask(b.mask.get(), b.n, &p); }, no_preparation},
      {"fill_u32", 4.0, true, false,
       [](buffers& b, const simdrop_params& p) {
         return simdrop_fill_u32(reinterpret_cast<uint32_t*>(b.y.get()), b.n, &p);
       },
       no_preparation},
      typed_forward<double>("forward_f64", simdrop_forward_f64),
      typed_forward<uint16_t>("forward_bf16", simdrop_forward_bf16),
      typed_forward<uint16_t>("forward_f16", simdrop_forward_f16),
      {"bias_dropout_add", 12.0, true, true,
       [](buffers& b, const simdrop_params& p) {
         const size_t cols = bias_columns(b.n);
         return simdrop_bias_dropout_add_f32(b.x.get(), b.bias.get(), b.residual.get(), b.y.get(), b.n / cols, cols,
                                             &p, nullptr);
       },
       [](buffers& b, const simdrop_params&) { b.need_residual(); }},
  };
  return kinds;
}

const call_kind* find_call(const std::string& name) {
  for (const call_kind& k : call_kinds())
    if (name == k.name) return &k;
  return nullptr;
}

// ---- the request ----

struct bench_request {
  bool quick = false, json = false;
  std::string isa;
  std::vector<int> threads;
  std::vector<size_t> sizes;
  std::vector<const call_kind*> calls;
  std::vector<simdrop_generator> generators;
  uint32_t threshold_bits = 0;
  int repetitions = 5;
  double seconds_per_repetition = 0.1;
};

// N, or N with a K, M or G suffix (2^10, 2^20, 2^30), as bench/'s --simdrop_sizes.
size_t parse_size(const std::string& text) {
  constexpr uint64_t largest = uint64_t(1) << 30;
  std::string digits = text;
  uint64_t unit = 1;
  if (!digits.empty()) {
    const char suffix = digits.back();
    if (suffix == 'K' || suffix == 'k') unit = uint64_t(1) << 10;
    if (suffix == 'M' || suffix == 'm') unit = uint64_t(1) << 20;
    if (suffix == 'G' || suffix == 'g') unit = uint64_t(1) << 30;
    if (unit > 1) digits.pop_back();
  }
  const uint64_t count = parse_u64_in("--size", digits, 1, largest);
  if (count * unit > largest)
    throw usage_error("--size: " + text + " is out of range (1 .. " + std::to_string(largest) + ")");
  return size_t(count * unit);
}

bench_request parse(arguments& args) {
  bench_request r;
  r.quick = args.take_switch("quick");
  r.json = args.take_switch("json");
  std::string value;
  r.threshold_bits = simdrop_params_default(bench_keep_prob, bench_seed).threshold_bits;
  if (args.take_value("isa", &value)) {
    bool compiled = false;
    for (size_t i = 0; i < simdrop_isa_count(); ++i) compiled = compiled || value == simdrop_isa_name(i);
    if (!compiled && value != "auto")
      throw usage_error("--isa: \"" + value + "\" is not an implementation of this build");
    if (compiled && !simdrop_isa_supported(value.c_str()))
      throw usage_error("--isa: this CPU cannot run \"" + value + "\"");
    r.isa = value;
  }
  if (args.take_value("threads", &value)) r.threads = {int(parse_u64_in("--threads", value, 1, 1024))};
  if (args.take_value("size", &value)) r.sizes = {parse_size(value)};
  if (args.take_value("call", &value)) {
    const call_kind* kind = find_call(value);
    if (!kind) throw usage_error("--call: \"" + value + "\" is not a call this command times (see --help)");
    r.calls = {kind};
  }
  if (args.take_value("generator", &value)) r.generators = {parse_generator("--generator", value)};
  if (args.take_value("threshold-bits", &value)) r.threshold_bits = parse_threshold_bits("--threshold-bits", value);
  args.finish();

  if (r.threads.empty()) {
    r.threads = {1};
#if defined(_OPENMP)
    if (omp_get_max_threads() > 1) r.threads.push_back(omp_get_max_threads());  // what a call uses by default
#endif
  }
  // In cache (32K floats, 256 KB of traffic) and far out of it (64M, 512 MB).
  if (r.sizes.empty()) r.sizes = {size_t(32) << 10, size_t(64) << 20};
  if (r.calls.empty()) {
    if (r.quick) r.calls = {find_call("forward")};
    else r.calls = {find_call("forward"), find_call("forward_mask"), find_call("backward_mask"), find_call("fill_u32")};
  }
  if (r.generators.empty()) r.generators = {SIMDROP_PHILOX4X32_10, SIMDROP_XOSHIRO128PP};
  if (r.quick) r.repetitions = 3, r.seconds_per_repetition = 0.02;
  return r;
}

// ---- measuring ----

struct repetition {
  uint64_t calls = 0;
  double real_seconds = 0, cpu_seconds = 0;  // per call; cpu: the calling thread's
  double gbps = 0, roof_gbps = 0, roof_fraction = 0;
};

struct row {
  std::string name;
  size_t n = 0;
  int threads = 1;
  double bytes_per_element = 0;
  std::vector<repetition> repetitions;
};

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t m = values.size();
  return m == 0 ? 0.0 : m % 2 ? values[m / 2] : 0.5 * (values[m / 2 - 1] + values[m / 2]);
}

double median_of(const row& r, double repetition::*field) {
  std::vector<double> values;
  for (const repetition& rep : r.repetitions) values.push_back(rep.*field);
  return median(values);
}

void check(int status, const char* what) {
  if (status != SIMDROP_OK) throw runtime_failure(std::string("bench: ") + what + ": " + simdrop_status_string(status));
}

row measure(const bench_request& r, buffers& b, const call_kind& kind, simdrop_params params, int threads,
            const std::string& name) {
  using clock = std::chrono::steady_clock;
  check(simdrop_set_num_threads(threads), "simdrop_set_num_threads");
  row out{name, b.n, threads, kind.bytes_per_element, {}};
  kind.prepare(b, params);
  check(kind.run(b, params), kind.name);  // warm-up: code, pages and the thread pool
  uint64_t stream = 0;
  for (int rep = 0; rep < r.repetitions; ++rep) {
    repetition result;
    const double cpu_start = thread_cpu_seconds();
    const clock::time_point start = clock::now();
    double elapsed = 0;
    do {
      params.stream = ++stream;
      check(kind.run(b, params), kind.name);
      ++result.calls;
      elapsed = std::chrono::duration<double>(clock::now() - start).count();
    } while (elapsed < r.seconds_per_repetition);
    result.cpu_seconds = (thread_cpu_seconds() - cpu_start) / double(result.calls);
    result.real_seconds = elapsed / double(result.calls);
    result.gbps = double(b.n) * kind.bytes_per_element / 1e9 / result.real_seconds;
    result.roof_gbps = paired_copy_gbps(b.x.get(), b.y.get(), b.n, threads, std::min(0.2, std::max(0.01, elapsed / 2)));
    result.roof_fraction = result.roof_gbps > 0 ? result.gbps / result.roof_gbps : 0.0;
    out.repetitions.push_back(result);
  }
  return out;
}

std::string row_name(const call_kind& kind, const std::string& isa, simdrop_generator g, uint32_t bits, size_t n,
                     int threads) {
  std::string name = std::string(kind.name) + "/" + isa;
  if (kind.has_generator) name += std::string("/") + generator_name(g);
  if (kind.has_width) name += "/" + std::to_string(bits) + "bit";
  return name + "/n:" + std::to_string(n) + "/omp:" + std::to_string(threads);
}

// ---- output ----

void print_text_header(const bench_request& r, const std::string& isa) {
  std::printf("simdrop bench: %s, keep_prob %g, median of %d repetitions of >= %g s each\n", isa.c_str(),
              double(bench_keep_prob), r.repetitions, r.seconds_per_repetition);
  std::printf("of roof: the call's GB/s over a copy of the same n floats (8 bytes each; the faster of memcpy and\n"
              "streaming stores, same threads) timed right after each repetition\n\n");
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) == 3)
    std::printf("load average before the run: %.2f %.2f %.2f (other work on the machine moves the figures,\n"
                "threads > 1 the most)\n\n", load[0], load[1], load[2]);
  std::printf("%-52s %12s %12s %9s %10s %8s\n", "row", "us/call", "G elem/s", "GB/s", "roof GB/s", "of roof");
  std::fflush(stdout);
}

void print_text_row(const row& r) {
  const double seconds = median_of(r, &repetition::real_seconds);
  std::printf("%-52s %12.3f %12.3f %9.2f %10.2f %8.3f\n", r.name.c_str(), seconds * 1e6, double(r.n) / seconds / 1e9,
              median_of(r, &repetition::gbps), median_of(r, &repetition::roof_gbps),
              median_of(r, &repetition::roof_fraction));
  std::fflush(stdout);
}

std::string read_first_line(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return "";
  char buffer[256] = {};
  const bool ok = std::fgets(buffer, sizeof buffer, f) != nullptr;
  std::fclose(f);
  std::string line = ok ? buffer : "";
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
  return line;
}

double cpu_mhz() {
  FILE* f = std::fopen("/proc/cpuinfo", "r");
  if (!f) return 0;
  char line[512];
  double mhz = 0;
  while (mhz == 0 && std::fgets(line, sizeof line, f))
    if (std::strncmp(line, "cpu MHz", 7) == 0)
      if (const char* colon = std::strchr(line, ':')) mhz = std::atof(colon + 1);
  std::fclose(f);
  return mhz;
}

// Google Benchmark's context: the same keys, read from this machine.
void write_context(json_writer& j, const bench_request& r, const std::string& isa) {
  char date[64] = {};
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S%z", &local);
  std::string iso_date = date;
  if (iso_date.size() > 5) iso_date.insert(iso_date.size() - 2, ":");  // +0000 -> +00:00
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  char executable[4096] = {};
  const ssize_t length = readlink("/proc/self/exe", executable, sizeof executable - 1);
  if (length < 0) executable[0] = '\0';

  j.key("context").begin_object();
  j.member("date", iso_date).member("host_name", host).member("executable", executable);
  j.member("num_cpus", int64_t(sysconf(_SC_NPROCESSORS_ONLN))).member("mhz_per_cpu", int64_t(cpu_mhz()));
  const std::string governor = read_first_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor");
  j.member("cpu_scaling_enabled", !governor.empty() && governor != "performance");
  j.key("caches").begin_array();
  for (int index = 0; index < 16; ++index) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/";
    const std::string type = read_first_line(dir + "type"), level = read_first_line(dir + "level");
    const std::string size = read_first_line(dir + "size"), shared = read_first_line(dir + "shared_cpu_list");
    if (type.empty()) break;
    uint64_t bytes = std::strtoull(size.c_str(), nullptr, 10);
    if (!size.empty() && size.back() == 'K') bytes <<= 10;
    if (!size.empty() && size.back() == 'M') bytes <<= 20;
    int sharing = 1;
    for (char c : shared) sharing += c == ',';
    if (const size_t dash = shared.find('-'); dash != std::string::npos && shared.find(',') == std::string::npos)
      sharing = std::atoi(shared.c_str() + dash + 1) - std::atoi(shared.c_str()) + 1;
    j.begin_object().member("type", type).member("level", int64_t(std::atoi(level.c_str())));
    j.member("size", bytes).member("num_sharing", sharing).end_object();
  }
  j.end_array();
  double load[3] = {0, 0, 0};
  const int loads = getloadavg(load, 3);
  j.key("load_avg").begin_array();
  for (int i = 0; i < loads; ++i) j.value(load[i]);
  j.end_array();
#if defined(NDEBUG)
  j.member("library_build_type", "release");
#else
  j.member("library_build_type", "debug");
#endif
  // simdrop's own context, as strings like Google Benchmark's custom context.
  j.member("simdrop_version", library_version());
  j.member("simdrop_isa", isa).member("simdrop_keep_prob", std::to_string(bench_keep_prob));
  j.member("simdrop_repetitions", std::to_string(r.repetitions));
  j.member("simdrop_seconds_per_repetition", std::to_string(r.seconds_per_repetition));
  j.member("simdrop_roof", "paired: after each repetition, the faster of memcpy and streaming-store copies of "
                           "the same n floats (8 bytes per element), same threads");
  j.end_object();
}

void write_run(json_writer& j, const row& r, size_t family, const std::string& name, const char* run_type,
               uint64_t iterations, int repetition_index, const repetition& values) {
  j.begin_object();
  j.member("name", name).member("family_index", uint64_t(family)).member("per_family_instance_index", 0);
  j.member("run_name", r.name).member("run_type", run_type);
  j.member("repetitions", int64_t(r.repetitions.size()));
  if (repetition_index >= 0) j.member("repetition_index", repetition_index);
  j.member("threads", 1).member("iterations", iterations);
  if (repetition_index < 0) j.member("aggregate_name", "median").member("aggregate_unit", "time");
  j.member("real_time", values.real_seconds * 1e6).member("cpu_time", values.cpu_seconds * 1e6);
  j.member("time_unit", "us");
  const double elements_per_second = double(r.n) / values.real_seconds;
  j.member("bytes_per_second", elements_per_second * r.bytes_per_element);
  j.member("items_per_second", elements_per_second);
  j.member("GB_per_second", values.gbps).member("elements_per_second", elements_per_second);
  j.member("paired_roof_GB_per_second", values.roof_gbps).member("paired_roof_fraction", values.roof_fraction);
  j.end_object();
}

void write_json(const bench_request& request, const std::string& isa, const std::vector<row>& rows) {
  json_writer j;
  j.begin_object();
  write_context(j, request, isa);
  j.key("benchmarks").begin_array();
  for (size_t family = 0; family < rows.size(); ++family) {
    const row& r = rows[family];
    for (size_t i = 0; i < r.repetitions.size(); ++i)
      write_run(j, r, family, r.name, "iteration", r.repetitions[i].calls, int(i), r.repetitions[i]);
    repetition medians;
    medians.real_seconds = median_of(r, &repetition::real_seconds);
    medians.cpu_seconds = median_of(r, &repetition::cpu_seconds);
    medians.gbps = median_of(r, &repetition::gbps);
    medians.roof_gbps = median_of(r, &repetition::roof_gbps);
    medians.roof_fraction = median_of(r, &repetition::roof_fraction);
    write_run(j, r, family, r.name + "_median", "aggregate", r.repetitions.size(), -1, medians);
  }
  j.end_array();
  j.end_object();
  std::fputs(j.text().c_str(), stdout);
}

}  // namespace

int run_bench(arguments& args) {
  const bench_request r = parse(args);
  if (!r.isa.empty()) check(simdrop_set_isa(r.isa.c_str()), "simdrop_set_isa");
  const std::string isa = simdrop_active_isa();
  if (!r.json) print_text_header(r, isa);
  std::vector<row> rows;
  for (size_t n : r.sizes) {
    buffers b(n);
    for (int threads : r.threads)
      for (const call_kind* kind : r.calls)
        for (simdrop_generator g : r.generators) {
          if (!kind->has_generator && g != r.generators.front()) continue;  // one row is enough
          simdrop_params params = simdrop_params_default(bench_keep_prob, bench_seed);
          params.generator = g;
          params.threshold_bits = r.threshold_bits;
          rows.push_back(measure(r, b, *kind, params, threads, row_name(*kind, isa, g, r.threshold_bits, n, threads)));
          if (!r.json) print_text_row(rows.back());
        }
  }
  simdrop_set_num_threads(0);
  if (r.json) write_json(r, isa, rows);
  return 0;
}

}  // namespace simdrop_cli
