// The "avx512" implementation's entries for mask bits, the stored-mask backward, the word stream, 2-D views
// (one of its four translation units; see avx512.hpp).
#define SIMDROP_ENTRIES SIMDROP_ENTRIES_MASKS
#include "kernels/arch/avx512.hpp"
