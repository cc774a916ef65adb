// The implementation table, CPU detection, the SIMDROP_ISA variable and the
// force switch. The best supported implementation is chosen at first use and
// cached behind an atomic pointer; a call loads the pointer once, so a call in
// flight finishes on the implementation it started with.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "core/dispatch.hpp"
#include "core/implementation.hpp"
#include "core/status.hpp"

namespace simdrop::detail {
namespace {

const implementation* const* build_list(size_t* count) {
  static const implementation* const list[] = {
#if defined(SIMDROP_HAVE_AVX512)
      &avx512_implementation(),
#endif
#if defined(SIMDROP_HAVE_AVX2)
      &avx2_implementation(),
#endif
#if defined(SIMDROP_HAVE_NEON)
      &neon_implementation(),
#endif
      &scalar_implementation(),
  };
  *count = sizeof(list) / sizeof(list[0]);
  return list;
}

const implementation* detect_best() {
  size_t count = 0;
  const implementation* const* list = implementation_list(&count);
  for (size_t i = 0; i < count; ++i)
    if (list[i]->supported()) return list[i];
  return &scalar_implementation();
}

bool is_known_name(const char* name) {
  static const char* const known[] = {"scalar", "avx2", "avx512", "neon"};
  for (const char* k : known)
    if (std::strcmp(name, k) == 0) return true;
  return false;
}

std::atomic<const implementation*> active{nullptr};

// First use: SIMDROP_ISA if usable, else detection. Race-free: every thread
// computes the same answer and only the first store wins.
const implementation* initial_choice() {
  const implementation* chosen = nullptr;
  if (const char* env = std::getenv("SIMDROP_ISA"); env && *env) {
    const implementation* forced = nullptr;
    const int status = resolve_isa(env, &forced);
    if (status == SIMDROP_OK) {
      chosen = forced;
    } else {
      static std::once_flag reported;
      std::call_once(reported, [&] {
        std::fprintf(stderr, "simdrop: ignoring SIMDROP_ISA=\"%s\": %s; using detection\n", env,
                     status_string(status));
      });
    }
  }
  return chosen ? chosen : detect_best();
}

}  // namespace

const implementation* const* implementation_list(size_t* count) { return build_list(count); }

int resolve_isa(const char* name, const implementation** out) {
  if (!name || !is_known_name(name)) {
    if (name && std::strcmp(name, "auto") == 0) {
      *out = detect_best();
      return SIMDROP_OK;
    }
    return SIMDROP_ERR_UNKNOWN_ISA;
  }
  size_t count = 0;
  const implementation* const* list = implementation_list(&count);
  for (size_t i = 0; i < count; ++i)
    if (std::strcmp(list[i]->name, name) == 0) {
      if (!list[i]->supported()) return SIMDROP_ERR_UNSUPPORTED_ISA;
      *out = list[i];
      return SIMDROP_OK;
    }
  return SIMDROP_ERR_UNSUPPORTED_ISA;  // known, but not compiled for this architecture
}

const implementation& active_implementation() {
  const implementation* current = active.load(std::memory_order_acquire);
  if (current) return *current;
  const implementation* expected = nullptr;
  const implementation* chosen = initial_choice();
  if (active.compare_exchange_strong(expected, chosen, std::memory_order_acq_rel)) return *chosen;
  return *expected;
}

namespace {
thread_local const implementation* last_call = nullptr;
}

const implementation& call_implementation() {
  const implementation& impl = active_implementation();
  last_call = &impl;
  return impl;
}

const char* last_call_implementation_name() { return last_call ? last_call->name : ""; }

int set_active_isa(const char* name) {
  const implementation* chosen = nullptr;
  const int status = resolve_isa(name, &chosen);
  if (status != SIMDROP_OK) return status;
  active.store(chosen, std::memory_order_release);
  return SIMDROP_OK;
}

}  // namespace simdrop::detail
