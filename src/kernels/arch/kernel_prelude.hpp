// What every per-ISA kernel file includes before opening its namespace: the
// headers dropout_kernels.inc relies on (it includes nothing itself).
#pragma once

#include <xsimd/xsimd.hpp>

#include <cstddef>
#include <cstdint>

#include "core/implementation.hpp"
#include "core/job.hpp"
#include "rng/philox.hpp"
