// The C API: validate once, pick the implementation once, cut the call into
// ranges for the threads, run the kernel. Nothing is written before every
// check has passed.
#include <cstring>

#include "core/dispatch.hpp"
#include "core/implementation.hpp"
#include "core/job.hpp"
#include "core/parallel.hpp"
#include "core/validate.hpp"
#include "rng/philox.hpp"
#include "simdrop/simdrop.h"

using namespace simdrop::detail;

namespace {

int run_forward(const float* x, float* y, size_t n, const simdrop_params* p, uint8_t* mask) {
  if (int s = check_call(p, n, sizeof(float), {x, y})) return s;
  if (n == 0) return SIMDROP_OK;
  const size_t bytes = n * sizeof(float), m_bytes = mask_bytes(n);
  if (partial_overlap(x, y, bytes) || byte_ranges_overlap(mask, m_bytes, x, bytes) ||
      byte_ranges_overlap(mask, m_bytes, y, bytes))
    return SIMDROP_ERR_OVERLAP;
  job j = make_job(*p);
  j.call_elements = n;
  const implementation& impl = call_implementation();
  parallel_ranges(n, j.offset, tiling_unit(j),
                  [&](size_t b, size_t e) { impl.forward_f32(j, x, y, mask, b, e); });
  return SIMDROP_OK;
}

}  // namespace

extern "C" {

simdrop_params simdrop_params_default(float keep_prob, uint64_t seed) {
  simdrop_params p;
  std::memset(&p, 0, sizeof p);
  p.keep_prob = keep_prob;
  p.seed = seed;
  p.stream = 0;
  p.offset = 0;
  p.generator = SIMDROP_PHILOX4X32_10;
  p.threshold_bits = 32;
  return p;
}

int simdrop_forward_f32(const float* x, float* y, size_t n, const simdrop_params* p, uint8_t* mask) {
  return run_forward(x, y, n, p, mask);
}

int simdrop_backward_f32(const float* dy, float* dx, size_t n, const simdrop_params* p) {
  return run_forward(dy, dx, n, p, nullptr);
}

int simdrop_backward_mask_f32(const float* dy, const uint8_t* mask, float* dx, size_t n, const simdrop_params* p) {
  if (int s = check_call(p, n, sizeof(float), {dy, mask, dx})) return s;
  if (n == 0) return SIMDROP_OK;
  const size_t bytes = n * sizeof(float), m_bytes = mask_bytes(n);
  if (partial_overlap(dy, dx, bytes) || byte_ranges_overlap(mask, m_bytes, dx, bytes))
    return SIMDROP_ERR_OVERLAP;
  job j = make_job(*p);
  j.call_elements = n;
  const implementation& impl = call_implementation();
  parallel_ranges(n, 0, 8, [&](size_t b, size_t e) { impl.backward_mask_f32(j, dy, mask, dx, b, e); });
  return SIMDROP_OK;
}

int simdrop_mask(uint8_t* mask, size_t n, const simdrop_params* p) {
  if (int s = check_call(p, n, 0, {mask})) return s;
  if (n == 0) return SIMDROP_OK;
  const job j = make_job(*p);
  const implementation& impl = call_implementation();
  parallel_ranges(n, j.offset, tiling_unit(j), [&](size_t b, size_t e) { impl.mask(j, mask, b, e); });
  return SIMDROP_OK;
}

int simdrop_fill_u32(uint32_t* words, size_t n, const simdrop_params* p) {
  if (int s = check_call(p, n, sizeof(uint32_t), {words})) return s;
  if (n == 0) return SIMDROP_OK;
  job j = make_job(*p);
  j.call_elements = n;
  const implementation& impl = call_implementation();
  const uint64_t unit = j.generator == SIMDROP_PHILOX4X32_10 ? simdrop::rng::philox_group_words
                                                             : simdrop::rng::xoshiro_tile_words;
  parallel_ranges(n, j.offset, unit, [&](size_t b, size_t e) { impl.fill_u32(j, words, b, e); });
  return SIMDROP_OK;
}

void simdrop_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  const simdrop::rng::philox_block b = simdrop::rng::philox4x32_10(ctr, key);
  std::memcpy(out, b.w, sizeof b.w);
}

const char* simdrop_status_string(int status) {
  switch (status) {
    case SIMDROP_OK: return "success";
    case SIMDROP_ERR_NULL_PARAMS: return "params pointer is NULL";
    case SIMDROP_ERR_KEEP_PROB: return "keep_prob must be a number in [0, 1]";
    case SIMDROP_ERR_THRESHOLD_BITS: return "threshold_bits must be 16 or 32";
    case SIMDROP_ERR_GENERATOR: return "unknown generator";
    case SIMDROP_ERR_NULL_POINTER: return "NULL data pointer with nonzero size";
    case SIMDROP_ERR_INDEX_OVERFLOW: return "global element index overflows (offset + n > 2^64)";
    case SIMDROP_ERR_OVERLAP: return "buffers partially overlap (only exact in-place aliasing is allowed)";
    case SIMDROP_ERR_UNKNOWN_ISA: return "unknown implementation name";
    case SIMDROP_ERR_UNSUPPORTED_ISA: return "implementation not supported by this CPU or build";
    case SIMDROP_ERR_NUM_THREADS: return "number of threads must be >= 0";
    case SIMDROP_ERR_LEADING_DIM: return "leading dimension smaller than the row it holds";
    case SIMDROP_ERR_ARGUMENT: return "argument outside its documented range";
    default: return "unknown simdrop status";
  }
}

int simdrop_set_isa(const char* name) { return set_active_isa(name); }

const char* simdrop_active_isa(void) { return active_implementation().name; }

const char* simdrop_last_call_isa(void) { return last_call_implementation_name(); }

int simdrop_set_num_threads(int n) {
  if (n < 0) return SIMDROP_ERR_NUM_THREADS;
  set_num_threads(n);
  return SIMDROP_OK;
}

int simdrop_get_num_threads(void) { return get_num_threads(); }

size_t simdrop_isa_count(void) {
  size_t count = 0;
  implementation_list(&count);
  return count;
}

const char* simdrop_isa_name(size_t i) {
  size_t count = 0;
  const implementation* const* list = implementation_list(&count);
  return i < count ? list[i]->name : nullptr;
}

int simdrop_isa_supported(const char* name) {
  const implementation* impl = nullptr;
  return name && std::strcmp(name, "auto") != 0 && resolve_isa(name, &impl) == SIMDROP_OK ? 1 : 0;
}

}  // extern "C"
