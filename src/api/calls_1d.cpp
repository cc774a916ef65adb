// The 1-D calls on floats and raw words: forward, backward (with regenerated
// decisions or a stored mask), mask bits, the word stream, and Random123's
// Philox itself.
#include <cstring>

#include "api/call.hpp"
#include "rng/philox.hpp"

using namespace simdrop::detail;

extern "C" {

int simdrop_forward_f32(const float* x, float* y, size_t n, const simdrop_params* p, uint8_t* mask) {
  return run_elementwise<float>(&implementation::forward_f32, x, y, n, p, mask);
}

int simdrop_backward_f32(const float* dy, float* dx, size_t n, const simdrop_params* p) {
  return run_elementwise<float>(&implementation::forward_f32, dy, dx, n, p, nullptr);
}

int simdrop_backward_mask_f32(const float* dy, const uint8_t* mask, float* dx, size_t n, const simdrop_params* p) {
  bool work = false;
  if (int s = validate_elementwise({p, n, sizeof(float), dy, dx, mask, true, true, true, false}, &work)) return s;
  if (!work) return SIMDROP_OK;
  const job j = make_job(*p, n);
  const implementation& impl = call_implementation();
  parallel_ranges(n, 0, 8, [&](size_t b, size_t e) { impl.backward_mask_f32(j, dy, mask, dx, b, e); });
  return SIMDROP_OK;
}

int simdrop_mask(uint8_t* mask, size_t n, const simdrop_params* p) {
  bool work = false;
  if (int s = validate_elementwise({p, n, 0, nullptr, nullptr, mask, false, false, true, true}, &work)) return s;
  if (!work) return SIMDROP_OK;
  const job j = make_job(*p, n);
  const implementation& impl = call_implementation();
  parallel_ranges(n, j.offset, tiling_unit(j), [&](size_t b, size_t e) { impl.mask(j, mask, b, e); });
  return SIMDROP_OK;
}

int simdrop_fill_u32(uint32_t* words, size_t n, const simdrop_params* p) {
  bool work = false;
  if (int s = validate_elementwise({p, n, sizeof(uint32_t), nullptr, words, nullptr, false, true, false, true}, &work))
    return s;
  if (!work) return SIMDROP_OK;
  const job j = make_job(*p, n);
  const implementation& impl = call_implementation();
  parallel_ranges(n, j.offset, word_tiling_unit(j), [&](size_t b, size_t e) { impl.fill_u32(j, words, b, e); });
  return SIMDROP_OK;
}

void simdrop_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  const simdrop::rng::philox_block b = simdrop::rng::philox4x32_10(ctr, key);
  std::memcpy(out, b.w, sizeof b.w);
}

}  // extern "C"
