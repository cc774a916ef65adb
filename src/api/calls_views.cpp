// 2-D views: rows of cols elements with their own leading dimensions. In the
// 2-D calls element (r, c) has global index offset + r * cols + c, whatever the
// strides; in the view calls offset + r * index_ld + c, so that a shard of a
// larger tensor (a block of its columns, say) gets its own part of the whole
// tensor's decisions in one call.
#include "api/call.hpp"

using namespace simdrop::detail;

namespace {

template <class T>
using view_entry = void (*const implementation::*)(const job&, const view_2d<T>&, const tile&);

template <class T>
int run_view(view_entry<T> entry, const T* x, size_t ldx, T* y, size_t ldy, size_t rows, size_t cols,
             uint64_t index_ld, const simdrop_params* p, uint8_t* mask, size_t ldmask) {
  bool work = false;
  if (int s = validate_view({p, rows, cols, sizeof(T), x, ldx, y, ldy, mask, ldmask, index_ld}, &work)) return s;
  if (!work) return SIMDROP_OK;
  const job j = make_job(*p, uint64_t(rows) * cols);
  const implementation& impl = call_implementation();
  const view_2d<T> view{x, ldx, y, ldy, mask, ldmask, rows, cols, index_ld};
  parallel_tiles(rows, cols, j.offset, index_ld, tiling_unit(j), [&](const tile& t) { (impl.*entry)(j, view, t); });
  return SIMDROP_OK;
}

}  // namespace

extern "C" {

int simdrop_forward_2d_f32(const float* x, size_t ldx, float* y, size_t ldy, size_t rows, size_t cols,
                           const simdrop_params* p, uint8_t* mask, size_t ldmask) {
  return run_view<float>(&implementation::forward_view_f32, x, ldx, y, ldy, rows, cols, cols, p, mask, ldmask);
}

int simdrop_backward_2d_f32(const float* dy, size_t lddy, float* dx, size_t lddx, size_t rows, size_t cols,
                            const simdrop_params* p) {
  return run_view<float>(&implementation::forward_view_f32, dy, lddy, dx, lddx, rows, cols, cols, p, nullptr, 0);
}

int simdrop_forward_view_f32(const float* x, size_t ldx, float* y, size_t ldy, size_t rows, size_t cols,
                             uint64_t index_ld, const simdrop_params* p, uint8_t* mask, size_t ldmask) {
  return run_view<float>(&implementation::forward_view_f32, x, ldx, y, ldy, rows, cols, index_ld, p, mask, ldmask);
}

int simdrop_backward_view_f32(const float* dy, size_t lddy, float* dx, size_t lddx, size_t rows, size_t cols,
                              uint64_t index_ld, const simdrop_params* p) {
  return run_view<float>(&implementation::forward_view_f32, dy, lddy, dx, lddx, rows, cols, index_ld, p, nullptr, 0);
}

int simdrop_forward_view_f64(const double* x, size_t ldx, double* y, size_t ldy, size_t rows, size_t cols,
                             uint64_t index_ld, const simdrop_params* p, uint8_t* mask, size_t ldmask) {
  return run_view<double>(&implementation::forward_view_f64, x, ldx, y, ldy, rows, cols, index_ld, p, mask, ldmask);
}

int simdrop_backward_view_f64(const double* dy, size_t lddy, double* dx, size_t lddx, size_t rows, size_t cols,
                              uint64_t index_ld, const simdrop_params* p) {
  return run_view<double>(&implementation::forward_view_f64, dy, lddy, dx, lddx, rows, cols, index_ld, p, nullptr, 0);
}

int simdrop_forward_view_bf16(const uint16_t* x, size_t ldx, uint16_t* y, size_t ldy, size_t rows, size_t cols,
                              uint64_t index_ld, const simdrop_params* p, uint8_t* mask, size_t ldmask) {
  return run_view<uint16_t>(&implementation::forward_view_bf16, x, ldx, y, ldy, rows, cols, index_ld, p, mask,
                            ldmask);
}

int simdrop_backward_view_bf16(const uint16_t* dy, size_t lddy, uint16_t* dx, size_t lddx, size_t rows, size_t cols,
                               uint64_t index_ld, const simdrop_params* p) {
  return run_view<uint16_t>(&implementation::forward_view_bf16, dy, lddy, dx, lddx, rows, cols, index_ld, p,
                            nullptr, 0);
}

int simdrop_forward_view_f16(const uint16_t* x, size_t ldx, uint16_t* y, size_t ldy, size_t rows, size_t cols,
                             uint64_t index_ld, const simdrop_params* p, uint8_t* mask, size_t ldmask) {
  return run_view<uint16_t>(&implementation::forward_view_f16, x, ldx, y, ldy, rows, cols, index_ld, p, mask,
                            ldmask);
}

int simdrop_backward_view_f16(const uint16_t* dy, size_t lddy, uint16_t* dx, size_t lddx, size_t rows, size_t cols,
                              uint64_t index_ld, const simdrop_params* p) {
  return run_view<uint16_t>(&implementation::forward_view_f16, dy, lddy, dx, lddx, rows, cols, index_ld, p,
                            nullptr, 0);
}

int simdrop_mask_view(uint8_t* mask, size_t ldmask, size_t rows, size_t cols, uint64_t index_ld,
                      const simdrop_params* p) {
  bool work = false;
  if (int s = validate_mask_view(p, mask, ldmask, rows, cols, index_ld, &work)) return s;
  if (!work) return SIMDROP_OK;
  const job j = make_job(*p, uint64_t(rows) * cols);
  const implementation& impl = call_implementation();
  const view_2d<float> view{nullptr, cols, nullptr, cols, mask, ldmask, rows, cols, index_ld};
  parallel_tiles(rows, cols, j.offset, index_ld, tiling_unit(j), [&](const tile& t) { impl.mask_view(j, view, t); });
  return SIMDROP_OK;
}

}  // extern "C"
