// What `simdrop info` says about the CPU: vendor, family, model, a
// microarchitecture name from a family/model table, and the features the
// library's dispatch reads, read by the tool itself (CPUID and XGETBV on
// x86-64, the auxiliary vector and /proc/cpuinfo on aarch64), never through
// the library's internals.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace simdrop_cli {

struct cpu_description {
  std::string architecture;       // "x86_64", "aarch64", ...
  std::string vendor;             // "GenuineIntel", "AuthenticAMD", "ARM", ... or "unknown"
  std::string brand;              // the brand string, where there is one
  int family = -1, model = -1, stepping = -1;  // x86 display family/model; aarch64: implementer/part
  std::string microarchitecture;  // from the table, or "unknown"
  // The features the dispatch reads, in the order it reads them: (name, present).
  std::vector<std::pair<std::string, bool>> dispatch_features;
  std::string note;  // how the name and features were found, and what they cannot tell
};

cpu_description describe_cpu();

}  // namespace simdrop_cli
