// What every per-ISA kernel file includes before opening its namespace: the
// headers dropout_kernels.inc relies on (it includes nothing itself).
#pragma once

#include <xsimd/xsimd.hpp>

#include <cstddef>
#include <cstdint>

#include "core/implementation.hpp"
#include "core/job.hpp"
#include "rng/philox.hpp"

// The generator, compare and store of one word register must fuse into one
// loop body with the lane state in registers; GCC does not always inline the
// visitors on its own.
#define SIMDROP_KERNEL_INLINE [[gnu::always_inline]] inline
