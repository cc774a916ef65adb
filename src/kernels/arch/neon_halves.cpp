// The "neon" implementation's entries for f16 and bf16
// (one of its four translation units; see neon.hpp).
#define SIMDROP_ENTRIES SIMDROP_ENTRIES_HALVES
#include "kernels/arch/neon.hpp"
