// The "avx2" implementation's entries for f64, channels, the fused bias-dropout-add
// (one of its four translation units; see avx2.hpp).
#define SIMDROP_ENTRIES SIMDROP_ENTRIES_FUSED
#include "kernels/arch/avx2.hpp"
