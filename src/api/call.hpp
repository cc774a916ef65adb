// What every data call of the C API does after validating its arguments: build
// the job, load the implementation once for the whole call, cut the call for
// the threads along the contract's boundaries, and run one table entry per
// range. Shared by the call families of src/api/.
#pragma once

#include "core/dispatch.hpp"
#include "core/implementation.hpp"
#include "core/job.hpp"
#include "core/parallel.hpp"
#include "core/validate.hpp"
#include "simdrop/simdrop.h"

namespace simdrop::detail {

// An element-wise entry of the table (forward_f32, forward_f64, ...).
template <class T>
using elementwise_entry = void (*const implementation::*)(const job&, const T*, T*, uint8_t*, size_t, size_t);

// The element-wise forward of n elements of T (the backward without a mask is
// the forward of dy with the same parameters).
template <class T>
int run_elementwise(elementwise_entry<T> entry, const T* x, T* y, size_t n, const simdrop_params* p, uint8_t* mask) {
  bool work = false;
  if (int s = validate_elementwise({p, n, sizeof(T), x, y, mask, true, true, false, true}, &work)) return s;
  if (!work) return SIMDROP_OK;
  const job j = make_job(*p, n);
  const implementation& impl = call_implementation();
  parallel_ranges(n, j.offset, tiling_unit(j), [&](size_t b, size_t e) { (impl.*entry)(j, x, y, mask, b, e); });
  return SIMDROP_OK;
}

}  // namespace simdrop::detail
