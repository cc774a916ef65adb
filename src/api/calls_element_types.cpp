// The element types other than f32: f64, bf16 and IEEE f16 (stored as
// uint16_t), forward and backward. Decisions and mask are those of f32 at the
// same global index.
#include "api/call.hpp"

using namespace simdrop::detail;

extern "C" {

int simdrop_forward_f64(const double* x, double* y, size_t n, const simdrop_params* p, uint8_t* mask) {
  return run_elementwise<double>(&implementation::forward_f64, x, y, n, p, mask);
}

int simdrop_backward_f64(const double* dy, double* dx, size_t n, const simdrop_params* p) {
  return run_elementwise<double>(&implementation::forward_f64, dy, dx, n, p, nullptr);
}

int simdrop_forward_bf16(const uint16_t* x, uint16_t* y, size_t n, const simdrop_params* p, uint8_t* mask) {
  return run_elementwise<uint16_t>(&implementation::forward_bf16, x, y, n, p, mask);
}

int simdrop_backward_bf16(const uint16_t* dy, uint16_t* dx, size_t n, const simdrop_params* p) {
  return run_elementwise<uint16_t>(&implementation::forward_bf16, dy, dx, n, p, nullptr);
}

int simdrop_forward_f16(const uint16_t* x, uint16_t* y, size_t n, const simdrop_params* p, uint8_t* mask) {
  return run_elementwise<uint16_t>(&implementation::forward_f16, x, y, n, p, mask);
}

int simdrop_backward_f16(const uint16_t* dy, uint16_t* dx, size_t n, const simdrop_params* p) {
  return run_elementwise<uint16_t>(&implementation::forward_f16, dy, dx, n, p, nullptr);
}

}  // extern "C"
