// The "avx512" implementation: its table, and the entries of the first group
// (the 1-D f32 forward); avx512.hpp has the kernels.
#define SIMDROP_ENTRIES SIMDROP_ENTRIES_F32
#include "kernels/arch/avx512.hpp"

namespace simdrop::kernels::avx512 {

bool supported() { return detail::host_cpu_features().avx512 && detail::host_cpu_features().f16c; }

}  // namespace simdrop::kernels::avx512

namespace simdrop::detail {

const implementation& avx512_implementation() {
  static constexpr implementation table = kernels::avx512::make_table(
      "avx512", "AVX-512 F/CD/BW/DQ/VL + BMI2: one zmm per word register, k-mask selects",
      kernels::avx512::supported);
  return table;
}

}  // namespace simdrop::detail
