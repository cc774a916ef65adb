// The "avx512" implementation's bf16 entry compiled with AVX-512 BF16 as well
// (vcvtneps2bf16 rounds in one instruction; see ops::store_bf16_native), in
// its own namespace. The avx512 unit calls it on CPUs that have the extension
// (Zen 4 and later, Cooper Lake and Sapphire Rapids and later). Template
// instances it shares with the avx512 unit (xsimd's, for the same arch) are
// compiled from the same code with one flag more, which adds instructions only
// where its intrinsics are written: either copy runs wherever avx512 does.
#define SIMDROP_AVX512_NAMESPACE avx512_bf16
#define SIMDROP_ENTRIES SIMDROP_ENTRIES_BF16_NATIVE
#include "kernels/arch/avx512.hpp"
