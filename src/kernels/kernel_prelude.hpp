// What every per-ISA kernel file includes before opening its namespace: the
// headers the generic kernels (generic/kernels.inc) rely on (it includes nothing itself).
#pragma once

#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/implementation.hpp"
#include "core/job.hpp"
#include "kernels/apply_loops.hpp"
#include "kernels/composed.hpp"
#include "rng/philox.hpp"

// The groups of table entries, one translation unit each per ISA (the unit
// defines SIMDROP_ENTRIES before including its ISA's header; see
// generic/entries.inc): the 1-D f32 forward and the table; mask bits, the
// stored-mask backward, the word stream and the 2-D views; f16 and bf16; f64,
// channels and the fused call.
#define SIMDROP_ENTRIES_F32 1
#define SIMDROP_ENTRIES_MASKS 2
#define SIMDROP_ENTRIES_HALVES 4
#define SIMDROP_ENTRIES_FUSED 8
#define SIMDROP_ENTRIES_ALL 15
// Not part of an implementation's own units: the bf16 entry alone, for the
// avx512 unit compiled with AVX-512 BF16 (avx512_bf16.cpp).
#define SIMDROP_ENTRIES_BF16_NATIVE 16

namespace simdrop::kernels {
// An element-wise 16-bit entry (forward_bf16's signature), for ops::native_bf16_entry.
using forward16_entry = void (*)(const detail::job&, const uint16_t* x, uint16_t* y, uint8_t* mask, size_t begin,
                                 size_t end);

// p - n elements, computed on the address: for the masked memory operations of
// ops::load_split and store_split, whose base may lie before the buffer (the
// lanes that would read there are masked off, and touch no memory).
template <class T>
inline T* elements_before(T* p, unsigned n) {
  return reinterpret_cast<T*>(reinterpret_cast<uintptr_t>(p) - uintptr_t(n) * sizeof(T));
}
}  // namespace simdrop::kernels

// The generator, compare and store of one word register must fuse into one
// loop body with the lane state in registers; GCC does not always inline the
// visitors on its own.
#define SIMDROP_KERNEL_INLINE [[gnu::always_inline]] inline

// Complete unrolling of the short fixed loops over Philox rounds, groups and
// vectors, so that the state arrays become registers: GCC's own limit stops
// short of it at three groups in flight, and the arrays then live on the stack.
#if defined(__clang__)
#define SIMDROP_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define SIMDROP_UNROLL _Pragma("GCC unroll 32")
#else
#define SIMDROP_UNROLL
#endif
