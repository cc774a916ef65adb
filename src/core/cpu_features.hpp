// What the CPU and the operating system allow: CPUID for the instructions,
// XGETBV for the register state the OS saves (xsimd 8.1 does not check it).
#pragma once

namespace simdrop::detail {

struct cpu_features {
  bool avx2_fma = false;  // AVX2 + FMA + OS-enabled YMM state
  bool avx512 = false;    // AVX-512 F, CD, BW, DQ, VL, BMI2 + OS-enabled ZMM and opmask state
  bool f16c = false;      // F16C (with OS-enabled YMM state)
  bool avx512_bf16 = false;
  bool neon = false;      // AdvSIMD (always on aarch64)
};

// Read once; cheap to call again.
const cpu_features& host_cpu_features();

}  // namespace simdrop::detail
