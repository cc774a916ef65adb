// The "avx512" implementation's entries for f16 and bf16
// (one of its four translation units; see avx512.hpp).
#define SIMDROP_ENTRIES SIMDROP_ENTRIES_HALVES
#include "kernels/arch/avx512.hpp"
