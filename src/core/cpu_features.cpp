// CPU feature detection for runtime dispatch.
#include "core/cpu_features.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#endif

namespace simdrop::detail {
namespace {

#if defined(__x86_64__) || defined(__i386__)
uint64_t read_xcr0() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t(edx) << 32) | eax;
}

cpu_features detect() {
  cpu_features f;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool osxsave = ecx & (1u << 27);
  const bool avx = ecx & (1u << 28);
  const bool fma = ecx & (1u << 12);
  const bool f16c = ecx & (1u << 29);
  if (!osxsave || !avx) return f;
  const uint64_t xcr0 = read_xcr0();
  const bool ymm_state = (xcr0 & 0x6) == 0x6;    // SSE and AVX state
  const bool zmm_state = (xcr0 & 0xE6) == 0xE6;  // plus opmask, ZMM_Hi256, Hi16_ZMM
  if (!ymm_state) return f;
  f.f16c = f16c;
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const bool avx2 = ebx & (1u << 5);
  const bool bmi2 = ebx & (1u << 8);
  const bool avx512f = ebx & (1u << 16), avx512dq = ebx & (1u << 17), avx512cd = ebx & (1u << 28),
             avx512bw = ebx & (1u << 30), avx512vl = ebx & (1u << 31);
  f.avx2_fma = avx2 && fma;
  // BMI2 (pext) splits the 16-bit decisions' mask bits; every AVX-512 CPU has it.
  f.avx512 = f.avx2_fma && zmm_state && avx512f && avx512dq && avx512cd && avx512bw && avx512vl && bmi2;
  if (f.avx512) {
    unsigned a1 = 0, b1 = 0, c1 = 0, d1 = 0;
    __cpuid_count(7, 1, a1, b1, c1, d1);
    // SIMDROP_NO_AVX512_BF16 (set, not "0"): as if the CPU lacked it, so that
    // the tests reach the integer bf16 rounding of the avx512 kernels too.
    const char* off = std::getenv("SIMDROP_NO_AVX512_BF16");
    f.avx512_bf16 = (a1 & (1u << 5)) && !(off && *off && std::strcmp(off, "0") != 0);
  }
  return f;
}
#elif defined(__aarch64__)
cpu_features detect() {
  cpu_features f;
  f.neon = true;  // AdvSIMD is mandatory in AArch64
  return f;
}
#else
cpu_features detect() { return cpu_features{}; }
#endif

}  // namespace

const cpu_features& host_cpu_features() {
  static const cpu_features features = detect();
  return features;
}

}  // namespace simdrop::detail
