// The C API's runtime switches and helpers: default parameters, status
// strings, the implementation in use and the force switch, the thread count.
#include <cstring>

#include "core/dispatch.hpp"
#include "core/implementation.hpp"
#include "core/parallel.hpp"
#include "core/status.hpp"
#include "simdrop/simdrop.h"

using namespace simdrop::detail;

extern "C" {

simdrop_params simdrop_params_default(float keep_prob, uint64_t seed) {
  simdrop_params p;
  std::memset(&p, 0, sizeof p);
  p.keep_prob = keep_prob;
  p.seed = seed;
  p.stream = 0;
  p.offset = 0;
  p.generator = SIMDROP_PHILOX4X32_10;
  p.threshold_bits = 16;
  return p;
}

const char* simdrop_version(void) { return SIMDROP_VERSION_STRING; }

const char* simdrop_status_string(int status) { return status_string(status); }

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
