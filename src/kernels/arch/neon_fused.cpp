// The "neon" implementation's entries for f64, channels, the fused bias-dropout-add
// (one of its four translation units; see neon.hpp).
#define SIMDROP_ENTRIES SIMDROP_ENTRIES_FUSED
#include "kernels/arch/neon.hpp"
