// The "neon" implementation: its table, and the entries of the first group
// (the 1-D f32 forward); neon.hpp has the kernels.
#define SIMDROP_ENTRIES SIMDROP_ENTRIES_F32
#include "kernels/arch/neon.hpp"

namespace simdrop::kernels::neon {

bool supported() { return detail::host_cpu_features().neon; }

}  // namespace simdrop::kernels::neon

namespace simdrop::detail {

const implementation& neon_implementation() {
  static constexpr implementation table = kernels::neon::make_table(
      "neon", "AArch64 AdvSIMD: four q registers per word register", kernels::neon::supported);
  return table;
}

}  // namespace simdrop::detail
