// The "avx2" implementation's entries for f16 and bf16
// (one of its four translation units; see avx2.hpp).
#define SIMDROP_ENTRIES SIMDROP_ENTRIES_HALVES
#include "kernels/arch/avx2.hpp"
