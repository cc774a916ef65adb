// The "avx512" implementation's entries for f64, channels, the fused bias-dropout-add
// (one of its four translation units; see avx512.hpp).
#define SIMDROP_ENTRIES SIMDROP_ENTRIES_FUSED
#include "kernels/arch/avx512.hpp"
