// `simdrop info [--json]`: the version, the build (compiler and flags, passed
// in by tools/CMakeLists.txt), every compiled implementation and whether this
// CPU runs it, the active one and why, the CPU and the features the dispatch
// reads, the OpenMP threads and the library's default parameters. Gathered
// once into `facts`, then written as text or as one JSON object.
//
// Why an implementation is active: the C API names the active implementation
// but not the reason, so the tool deduces it the way the library decides at
// first use (docs/source-map.md, core/dispatch): SIMDROP_ISA when set to a
// usable name, otherwise detection, the first implementation of the
// best-first list this CPU runs. The tool never calls simdrop_set_isa here.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "commands.hpp"
#include "cpu_description.hpp"
#include "json_writer.hpp"

namespace simdrop_cli {
namespace {

struct implementation_fact {
  std::string name;
  bool supported = false;
};

struct facts {
  std::string library_version, header_version;
  std::vector<implementation_fact> implementations;
  std::string active, detected, reason, explanation;
  std::string isa_variable;  // SIMDROP_ISA as set, "" when not set
  bool isa_variable_set = false;
  cpu_description cpu;
  bool openmp = false;
  int omp_max_threads = 1, simdrop_threads = 0;
  std::string omp_num_threads_variable;
  bool omp_num_threads_variable_set = false;
  simdrop_params defaults{};
};

std::string version_of_header() {
  return std::to_string(SIMDROP_VERSION_MAJOR) + "." + std::to_string(SIMDROP_VERSION_MINOR) + "." +
         std::to_string(SIMDROP_VERSION_PATCH);
}


void deduce_reason(facts& f) {
  const std::string& wanted = f.isa_variable;
  bool compiled = false;
  for (const implementation_fact& i : f.implementations) compiled = compiled || i.name == wanted;
  if (f.isa_variable_set && wanted == f.active && wanted != "auto") {
    f.reason = "SIMDROP_ISA";
    f.explanation = "the SIMDROP_ISA environment variable names it";
  } else if (f.active == f.detected) {
    f.reason = "detection";
    f.explanation = "the first implementation of the best-first list that this CPU runs";
    if (f.isa_variable_set && wanted == "auto") f.explanation += " (SIMDROP_ISA=auto asks for detection)";
    else if (f.isa_variable_set && !compiled)
      f.explanation += "; SIMDROP_ISA=\"" + wanted + "\" was ignored: not an implementation of this build";
    else if (f.isa_variable_set)
      f.explanation += "; SIMDROP_ISA=\"" + wanted + "\" was ignored: this CPU cannot run it";
    else f.explanation += "; SIMDROP_ISA is not set";
  } else {
    f.reason = "simdrop_set_isa";
    f.explanation = "neither SIMDROP_ISA nor detection gives it, so a simdrop_set_isa call chose it";
  }
}

facts gather() {
  facts f;
  f.header_version = version_of_header();
  f.library_version = library_version();
  for (size_t i = 0; i < simdrop_isa_count(); ++i) {
    const char* name = simdrop_isa_name(i);
    if (!name) continue;
    f.implementations.push_back({name, simdrop_isa_supported(name) != 0});
    if (f.detected.empty() && f.implementations.back().supported) f.detected = name;
  }
  if (const char* v = std::getenv("SIMDROP_ISA"); v && *v) f.isa_variable = v, f.isa_variable_set = true;
  f.active = simdrop_active_isa();
  deduce_reason(f);
  f.cpu = describe_cpu();
  f.openmp = SIMDROP_CLI_LIBRARY_OPENMP != 0;
#if defined(_OPENMP)
  f.omp_max_threads = omp_get_max_threads();
#endif
  if (const char* v = std::getenv("OMP_NUM_THREADS"); v)
    f.omp_num_threads_variable = v, f.omp_num_threads_variable_set = true;
  f.simdrop_threads = simdrop_get_num_threads();
  f.defaults = simdrop_params_default(1.0f, 0);
  return f;
}

int threads_per_call(const facts& f) {
  if (!f.openmp) return 1;
  return f.simdrop_threads > 0 ? f.simdrop_threads : f.omp_max_threads;
}

// SIMDROP_CLI_KERNEL_FLAGS is "isa: flags|isa: flags|...".
std::vector<std::pair<std::string, std::string>> kernel_flags() {
  std::vector<std::pair<std::string, std::string>> out;
  const std::string all = SIMDROP_CLI_KERNEL_FLAGS;
  for (size_t start = 0; start < all.size();) {
    const size_t end = std::min(all.find('|', start), all.size());
    const std::string entry = all.substr(start, end - start);
    const size_t colon = entry.find(": ");
    if (colon != std::string::npos) out.push_back({entry.substr(0, colon), entry.substr(colon + 2)});
    start = end + 1;
  }
  return out;
}

void write_json(const facts& f) {
  json_writer j;
  j.begin_object();
  j.member("version", f.library_version).member("header_version", f.header_version);
  j.key("build").begin_object();
  j.member("compiler", SIMDROP_CLI_COMPILER).member("build_type", SIMDROP_CLI_BUILD_TYPE);
  j.member("target", SIMDROP_CLI_TARGET).member("cxx_flags", SIMDROP_CLI_CXX_FLAGS);
  j.member("library_options", SIMDROP_CLI_LIBRARY_OPTIONS);
  j.key("kernel_flags").begin_object();
  for (const auto& [isa, flags] : kernel_flags()) j.member(isa, flags);
  j.end_object();
  j.member("openmp", f.openmp);
  j.end_object();
  j.key("implementations").begin_array();
  for (const implementation_fact& i : f.implementations)
    j.begin_object()
        .member("name", i.name)
        .member("supported", i.supported)
        .member("active", i.name == f.active)
        .end_object();
  j.end_array();
  j.key("active").begin_object();
  j.member("name", f.active).member("reason", f.reason).member("explanation", f.explanation);
  j.member("detected", f.detected);
  j.key("SIMDROP_ISA");
  f.isa_variable_set ? j.value(f.isa_variable) : j.value(std::string());
  j.member("reason_source", "deduced by this tool from SIMDROP_ISA and detection: the C API does not report it");
  j.end_object();
  j.key("cpu").begin_object();
  j.member("architecture", f.cpu.architecture).member("vendor", f.cpu.vendor).member("brand", f.cpu.brand);
  j.member("family", f.cpu.family).member("model", f.cpu.model).member("stepping", f.cpu.stepping);
  j.member("microarchitecture", f.cpu.microarchitecture);
  j.key("dispatch_features").begin_object();
  for (const auto& [name, present] : f.cpu.dispatch_features) j.member(name, present);
  j.end_object();
  j.member("note", f.cpu.note);
  j.end_object();
  j.key("threads").begin_object();
  j.member("openmp", f.openmp).member("omp_max_threads", f.omp_max_threads);
  j.member("OMP_NUM_THREADS", f.omp_num_threads_variable);
  j.member("simdrop_num_threads", f.simdrop_threads).member("threads_per_call", threads_per_call(f));
  j.end_object();
  j.key("defaults").begin_object();
  j.member("generator", generator_name(f.defaults.generator));
  j.member("threshold_bits", uint64_t(f.defaults.threshold_bits));
  j.member("stream", f.defaults.stream).member("offset", f.defaults.offset);
  j.end_object();
  j.end_object();
  std::fputs(j.text().c_str(), stdout);
}

const char* yes_no(bool b) { return b ? "yes" : "no"; }

void write_text(const facts& f) {
  std::printf("simdrop %s (library; compiled against header %s)\n\n", f.library_version.c_str(),
              f.header_version.c_str());
  std::printf("build\n  compiler          %s, %s build for %s\n", SIMDROP_CLI_COMPILER,
              *SIMDROP_CLI_BUILD_TYPE ? SIMDROP_CLI_BUILD_TYPE : "no build type", SIMDROP_CLI_TARGET);
  std::printf("  C++ flags         %s\n  library options   %s\n  kernel flags\n", SIMDROP_CLI_CXX_FLAGS,
              SIMDROP_CLI_LIBRARY_OPTIONS);
  for (const auto& [isa, flags] : kernel_flags())
    std::printf("    %-15s %s\n", (isa + ":").c_str(), flags.c_str());
  std::printf("  OpenMP            %s\n\n", yes_no(f.openmp));
  std::printf("implementations (best first)\n");
  for (const implementation_fact& i : f.implementations)
    std::printf("  %-8s %s%s\n", i.name.c_str(), i.supported ? "this CPU runs it" : "this CPU cannot run it",
                i.name == f.active ? "   <- active" : "");
  std::printf("\nactive              %s, by %s: %s\n", f.active.c_str(), f.reason.c_str(), f.explanation.c_str());
  std::printf("                    (the reason is deduced by this tool: the C API does not report it)\n\n");
  const cpu_description& c = f.cpu;
  std::printf("cpu\n  architecture      %s\n  vendor            %s\n", c.architecture.c_str(), c.vendor.c_str());
  if (!c.brand.empty()) std::printf("  brand             %s\n", c.brand.c_str());
  if (c.family >= 0)
    std::printf("  family, model     %d (0x%x), %d (0x%x), stepping %d\n", c.family, unsigned(c.family), c.model,
                unsigned(c.model), c.stepping);
  std::printf("  microarchitecture %s\n  dispatch reads   ", c.microarchitecture.c_str());
  for (const auto& [name, present] : c.dispatch_features) std::printf(" %s:%s", name.c_str(), yes_no(present));
  std::printf("\n  (%s)\n\n", c.note.c_str());
  std::printf("threads\n  OpenMP max        %d%s\n", f.omp_max_threads,
              f.omp_num_threads_variable_set ? (" (OMP_NUM_THREADS=" + f.omp_num_threads_variable + ")").c_str()
                                             : " (OMP_NUM_THREADS not set)");
  std::printf("  simdrop setting   %d%s\n  per call          up to %d (small calls use fewer)\n\n",
              f.simdrop_threads, f.simdrop_threads == 0 ? " (OpenMP's default)" : "", threads_per_call(f));
  std::printf("defaults (simdrop_params_default)\n  generator %s, threshold_bits %u, stream %llu, offset %llu\n",
              generator_name(f.defaults.generator), unsigned(f.defaults.threshold_bits),
              static_cast<unsigned long long>(f.defaults.stream), static_cast<unsigned long long>(f.defaults.offset));
}

}  // namespace

std::string library_version() {
#if defined(SIMDROP_VERSION_STRING)
  return simdrop_version();  // the library loaded at run time (simdrop_version came with version.h)
#else
  return version_of_header();
#endif
}

int run_info(arguments& args) {
  const bool json = args.take_switch("json");
  args.finish();
  const facts f = gather();
  if (json) write_json(f);
  else write_text(f);
  return 0;
}

}  // namespace simdrop_cli
