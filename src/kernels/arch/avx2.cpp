// The "avx2" implementation: its table, and the entries of the first group
// (the 1-D f32 forward); avx2.hpp has the kernels.
#define SIMDROP_ENTRIES SIMDROP_ENTRIES_F32
#include "kernels/arch/avx2.hpp"

namespace simdrop::kernels::avx2 {

// F16C is part of the requirement: every AVX2 processor has it, and the half
// kernels use it.
bool supported() { return detail::host_cpu_features().avx2_fma && detail::host_cpu_features().f16c; }

}  // namespace simdrop::kernels::avx2

namespace simdrop::detail {

const implementation& avx2_implementation() {
  static constexpr implementation table = kernels::avx2::make_table(
      "avx2", "AVX2 + FMA + F16C: two ymm per word register, movemask for mask bits", kernels::avx2::supported);
  return table;
}

}  // namespace simdrop::detail
