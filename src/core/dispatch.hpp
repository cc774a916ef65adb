// Choosing an implementation by name (the force switch and SIMDROP_ISA).
#pragma once

#include "core/implementation.hpp"

namespace simdrop::detail {

// "auto" gives the detected best; other names must be known and supported.
// Returns SIMDROP_OK, SIMDROP_ERR_UNKNOWN_ISA or SIMDROP_ERR_UNSUPPORTED_ISA.
int resolve_isa(const char* name, const implementation** out);

// Makes `name` the implementation of later calls (process-wide).
int set_active_isa(const char* name);

}  // namespace simdrop::detail
