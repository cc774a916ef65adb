// The fused bias + dropout + residual: y = residual + dropout(x + bias) over
// contiguous rows, with the bias broadcast over rows.
#include "api/call.hpp"

using namespace simdrop::detail;

extern "C" {

int simdrop_bias_dropout_add_f32(const float* x, const float* bias, const float* residual, float* y, size_t rows,
                                 size_t cols, const simdrop_params* p, uint8_t* mask) {
  bool work = false;
  if (int s = validate_fused(p, x, bias, residual, y, rows, cols, mask, &work)) return s;
  if (!work) return SIMDROP_OK;
  const size_t n = rows * cols;
  const job j = make_job(*p, n);
  const implementation& impl = call_implementation();
  const fused_view view{x, bias, residual, y, mask, cols};
  parallel_ranges(n, j.offset, tiling_unit(j), [&](size_t b, size_t e) { impl.bias_dropout_add_f32(j, view, b, e); });
  return SIMDROP_OK;
}

}  // extern "C"
