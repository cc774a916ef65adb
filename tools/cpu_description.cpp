// CPU identification for `simdrop info` (see cpu_description.hpp). The
// microarchitecture names come from the vendors' family/model numbers; a
// hypervisor may report numbers that are not the host's, so the name is
// labelled as coming from the table.
#include "cpu_description.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

namespace simdrop_cli {
namespace {

#if defined(__x86_64__) || defined(__i386__)
struct model_range {
  int family, first_model, last_model;
  const char* name;
};

// Intel family 6 (display model) and AMD families 0x17-0x1A, as the vendors'
// documentation and the Linux kernel's intel-family.h name them.
const model_range known_models[] = {
    {6, 0x2A, 0x2A, "Sandy Bridge"},        {6, 0x2D, 0x2D, "Sandy Bridge-EP"},
    {6, 0x3A, 0x3A, "Ivy Bridge"},          {6, 0x3E, 0x3E, "Ivy Bridge-EP"},
    {6, 0x3C, 0x3C, "Haswell"},             {6, 0x3F, 0x3F, "Haswell-EP"},
    {6, 0x45, 0x46, "Haswell"},             {6, 0x3D, 0x3D, "Broadwell"},
    {6, 0x47, 0x47, "Broadwell"},           {6, 0x4F, 0x4F, "Broadwell-EP"},
    {6, 0x56, 0x56, "Broadwell-DE"},        {6, 0x4E, 0x4E, "Skylake"},
    {6, 0x5E, 0x5E, "Skylake"},             {6, 0x55, 0x55, "Skylake-SP / Cascade Lake / Cooper Lake"},
    {6, 0x57, 0x57, "Knights Landing"},     {6, 0x85, 0x85, "Knights Mill"},
    {6, 0x8E, 0x8E, "Kaby Lake / Coffee Lake (mobile)"}, {6, 0x9E, 0x9E, "Kaby Lake / Coffee Lake"},
    {6, 0xA5, 0xA6, "Comet Lake"},          {6, 0x66, 0x66, "Cannon Lake"},
    {6, 0x6A, 0x6A, "Ice Lake-SP"},         {6, 0x6C, 0x6C, "Ice Lake-D"},
    {6, 0x7D, 0x7E, "Ice Lake"},            {6, 0x8C, 0x8D, "Tiger Lake"},
    {6, 0xA7, 0xA7, "Rocket Lake"},         {6, 0x97, 0x97, "Alder Lake"},
    {6, 0x9A, 0x9A, "Alder Lake (mobile)"}, {6, 0xB7, 0xB7, "Raptor Lake"},
    {6, 0xBA, 0xBA, "Raptor Lake (mobile)"}, {6, 0xBF, 0xBF, "Raptor Lake"},
    {6, 0xAA, 0xAC, "Meteor Lake"},         {6, 0xBD, 0xBD, "Lunar Lake"},
    {6, 0xC5, 0xC6, "Arrow Lake"},          {6, 0x8F, 0x8F, "Sapphire Rapids"},
    {6, 0xCF, 0xCF, "Emerald Rapids"},      {6, 0xAD, 0xAE, "Granite Rapids"},
    {6, 0xAF, 0xAF, "Sierra Forest"},       {6, 0x5C, 0x5C, "Goldmont"},
    {6, 0x7A, 0x7A, "Goldmont Plus"},       {6, 0x86, 0x86, "Tremont"},
    {6, 0x96, 0x96, "Tremont"},             {6, 0x9C, 0x9C, "Tremont"},
    {0x17, 0x00, 0x2F, "Zen / Zen+"},       {0x17, 0x30, 0xFF, "Zen 2"},
    {0x19, 0x00, 0x0F, "Zen 3"},            {0x19, 0x10, 0x1F, "Zen 4"},
    {0x19, 0x20, 0x5F, "Zen 3"},            {0x19, 0x60, 0x7F, "Zen 4"},
    {0x19, 0xA0, 0xAF, "Zen 4c"},           {0x1A, 0x00, 0xFF, "Zen 5"},
};

const char* table_name(int family, int model) {
  for (const model_range& m : known_models)
    if (m.family == family && model >= m.first_model && model <= m.last_model) return m.name;
  return nullptr;
}

uint64_t read_xcr0() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t(edx) << 32) | eax;
}

bool bit(unsigned value, int index) { return (value >> index) & 1u; }

void describe_x86(cpu_description& d) {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  const unsigned max_leaf = __get_cpuid_max(0, nullptr);
  __cpuid(0, eax, ebx, ecx, edx);
  char vendor[13] = {};
  std::memcpy(vendor, &ebx, 4), std::memcpy(vendor + 4, &edx, 4), std::memcpy(vendor + 8, &ecx, 4);
  d.vendor = vendor;
  if (unsigned(__get_cpuid_max(0x80000000, nullptr)) >= 0x80000004u) {
    unsigned brand[12];
    for (unsigned i = 0; i < 3; ++i)
      __cpuid(0x80000002 + i, brand[4 * i], brand[4 * i + 1], brand[4 * i + 2], brand[4 * i + 3]);
    char text[49] = {};
    std::memcpy(text, brand, 48);
    d.brand = text;
    d.brand.erase(0, d.brand.find_first_not_of(' '));
  }
  if (max_leaf < 1) return;
  __cpuid(1, eax, ebx, ecx, edx);
  const int base_family = int((eax >> 8) & 0xF), base_model = int((eax >> 4) & 0xF);
  d.family = base_family == 0xF ? base_family + int((eax >> 20) & 0xFF) : base_family;
  d.model = base_family == 0x6 || base_family == 0xF ? (int((eax >> 16) & 0xF) << 4) + base_model : base_model;
  d.stepping = int(eax & 0xF);
  const bool osxsave = bit(ecx, 27);
  d.dispatch_features = {{"osxsave", osxsave}, {"avx", bit(ecx, 28)}, {"fma", bit(ecx, 12)}, {"f16c", bit(ecx, 29)}};
  const uint64_t xcr0 = osxsave ? read_xcr0() : 0;
  d.dispatch_features.push_back({"os_ymm_state", (xcr0 & 0x6) == 0x6});
  d.dispatch_features.push_back({"os_zmm_opmask_state", (xcr0 & 0xE6) == 0xE6});
  unsigned b7 = 0, c7 = 0, d7 = 0, a71 = 0;
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, eax, b7, c7, d7);
    unsigned unused_b = 0, unused_c = 0, unused_d = 0;
    __cpuid_count(7, 1, a71, unused_b, unused_c, unused_d);
  }
  d.dispatch_features.insert(d.dispatch_features.end(),
                             {{"avx2", bit(b7, 5)},
                              {"bmi2", bit(b7, 8)},
                              {"avx512f", bit(b7, 16)},
                              {"avx512dq", bit(b7, 17)},
                              {"avx512cd", bit(b7, 28)},
                              {"avx512bw", bit(b7, 30)},
                              {"avx512vl", bit(b7, 31)},
                              {"avx512_bf16", bit(a71, 5)}});
  const char* name = d.vendor == "GenuineIntel" || d.vendor == "AuthenticAMD" ? table_name(d.family, d.model)
                                                                                : nullptr;
  d.microarchitecture = name ? name : "unknown";
  d.note = "CPUID and XGETBV read by this tool; the microarchitecture from a family/model table "
           "(a hypervisor may report a family/model that is not the host's)";
}
#endif

#if defined(__aarch64__)
// "CPU implementer" and "CPU part" of /proc/cpuinfo (the MIDR fields), first core.
void read_midr_fields(int* implementer, int* part) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line) && (*implementer < 0 || *part < 0)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string value = line.substr(colon + 1);
    const int number = int(std::strtol(value.c_str(), nullptr, 0));
    if (line.rfind("CPU implementer", 0) == 0 && *implementer < 0) *implementer = number;
    if (line.rfind("CPU part", 0) == 0 && *part < 0) *part = number;
  }
}

struct arm_part {
  int implementer, part;
  const char* name;
};

const arm_part known_parts[] = {
    {0x41, 0xD03, "Cortex-A53"},  {0x41, 0xD07, "Cortex-A57"},    {0x41, 0xD08, "Cortex-A72"},
    {0x41, 0xD0B, "Cortex-A76"},  {0x41, 0xD0C, "Neoverse N1"},   {0x41, 0xD40, "Neoverse V1"},
    {0x41, 0xD41, "Cortex-A78"},  {0x41, 0xD49, "Neoverse N2"},   {0x41, 0xD4F, "Neoverse V2"},
    {0x41, 0xD8E, "Neoverse N3"}, {0x41, 0xD84, "Neoverse V3"},   {0xC0, 0xAC3, "Ampere-1"},
    {0xC0, 0xAC4, "Ampere-1a"},   {0x48, 0xD01, "TaiShan v110"}, {0x4E, 0x004, "Carmel"},
};

void describe_aarch64(cpu_description& d) {
  int implementer = -1, part = -1;
  read_midr_fields(&implementer, &part);
  d.family = implementer, d.model = part;
  switch (implementer) {
    case 0x41: d.vendor = "ARM"; break;
    case 0x48: d.vendor = "HiSilicon"; break;
    case 0x4E: d.vendor = "NVIDIA"; break;
    case 0x51: d.vendor = "Qualcomm"; break;
    case 0x61: d.vendor = "Apple"; break;
    case 0xC0: d.vendor = "Ampere"; break;
    default: d.vendor = "unknown";
  }
  d.microarchitecture = "unknown";
  for (const arm_part& p : known_parts)
    if (p.implementer == implementer && p.part == part) d.microarchitecture = p.name;
#if defined(__linux__)
  const bool asimd = getauxval(AT_HWCAP) & (1ul << 1);  // HWCAP_ASIMD
#else
  const bool asimd = true;
#endif
  d.dispatch_features = {{"asimd (neon)", asimd}};
  d.note = "AdvSIMD is part of every AArch64 CPU (the dispatch assumes it); family and model are the MIDR "
           "implementer and part from /proc/cpuinfo (under qemu-user they are the host's, or absent)";
}
#endif

}  // namespace

cpu_description describe_cpu() {
  cpu_description d;
  d.vendor = d.microarchitecture = "unknown";
#if defined(__x86_64__)
  d.architecture = "x86_64";
  describe_x86(d);
#elif defined(__i386__)
  d.architecture = "i386";
  describe_x86(d);
#elif defined(__aarch64__)
  d.architecture = "aarch64";
  describe_aarch64(d);
#else
  d.architecture = "unknown";
  d.note = "this architecture has no SIMD implementation in simdrop; the tool does not identify its CPUs";
#endif
  return d;
}

}  // namespace simdrop_cli
