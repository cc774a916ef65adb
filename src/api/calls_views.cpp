// 2-D views: rows of cols elements with their own leading dimensions; element
// (r, c) has global index offset + r * cols + c, whatever the strides.
#include "api/call.hpp"

using namespace simdrop::detail;

namespace {

int run_2d(const float* x, size_t ldx, float* y, size_t ldy, size_t rows, size_t cols, const simdrop_params* p,
           uint8_t* mask, size_t ldmask) {
  bool work = false;
  if (int s = validate_view({p, rows, cols, sizeof(float), x, ldx, y, ldy, mask, ldmask, cols}, &work)) return s;
  if (!work) return SIMDROP_OK;
  const job j = make_job(*p, uint64_t(rows) * cols);
  const implementation& impl = call_implementation();
  const view_2d_f32 view{x, ldx, y, ldy, mask, ldmask, rows, cols, cols};
  parallel_tiles(rows, cols, j.offset, cols, tiling_unit(j), [&](const tile& t) { impl.forward_2d_f32(j, view, t); });
  return SIMDROP_OK;
}

}  // namespace

extern "C" {

int simdrop_forward_2d_f32(const float* x, size_t ldx, float* y, size_t ldy, size_t rows, size_t cols,
                           const simdrop_params* p, uint8_t* mask, size_t ldmask) {
  return run_2d(x, ldx, y, ldy, rows, cols, p, mask, ldmask);
}

int simdrop_backward_2d_f32(const float* dy, size_t lddy, float* dx, size_t lddx, size_t rows, size_t cols,
                            const simdrop_params* p) {
  return run_2d(dy, lddy, dx, lddx, rows, cols, p, nullptr, 0);
}

}  // extern "C"
