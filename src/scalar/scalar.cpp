// The "scalar" implementation: portable C++, no SIMD code. The fallback on any
// CPU and the reference every fast path is tested against, bit for bit.
#include <algorithm>
#include <cstring>

#include "core/implementation.hpp"
#include "kernels/composed.hpp"
#include "scalar/word_source.hpp"

namespace simdrop::scalar {
namespace {

using detail::job;

// Calls f(i, keep) for every element i in [begin, end) of the call, in order.
template <class F>
void for_each_decision(const job& j, size_t begin, size_t end, F&& f) {
  word_source source(j);
  const unsigned per_register = rng::elements_per_register(j.threshold_bits);
  const bool keep_all = j.keep_all();
  const uint32_t t = uint32_t(j.threshold);  // only used when !keep_all, so T < 2^32
  size_t i = begin;
  while (i < end) {
    const uint64_t g = j.offset + i;
    const uint64_t reg = g / per_register;
    const unsigned first = unsigned(g % per_register);
    const size_t count = std::min<size_t>(per_register - first, end - i);
    const uint32_t* words = source.word_register(reg);
    for (size_t e = first; e < first + count; ++e, ++i)
      f(i, keep_all || rng::register_field(words, unsigned(e), j.threshold_bits) < t);
  }
}

// Writes mask bits for [begin, end); begin % 8 == 0, whole bytes are written.
class bit_writer {
 public:
  bit_writer(uint8_t* mask, size_t begin) : out_(mask ? mask + begin / 8 : nullptr) {}
  void put(bool bit) {
    if (!out_) return;
    byte_ = uint8_t(byte_ | (unsigned(bit) << count_));
    if (++count_ == 8) flush();
  }
  void flush() {
    if (out_ && count_ != 0) *out_++ = byte_;
    byte_ = 0;
    count_ = 0;
  }

 private:
  uint8_t* out_;
  uint8_t byte_ = 0;
  unsigned count_ = 0;
};

void forward_f32(const job& j, const float* x, float* y, uint8_t* mask, size_t begin, size_t end) {
  bit_writer bits(mask, begin);
  const float s = j.scale;
  for_each_decision(j, begin, end, [&](size_t i, bool keep) {
    y[i] = keep ? x[i] * s : 0.0f;
    bits.put(keep);
  });
  bits.flush();
}

void mask_only(const job& j, uint8_t* mask, size_t begin, size_t end) {
  bit_writer bits(mask, begin);
  for_each_decision(j, begin, end, [&](size_t, bool keep) { bits.put(keep); });
  bits.flush();
}

void backward_mask_f32(const job& j, const float* dy, const uint8_t* mask, float* dx, size_t begin, size_t end) {
  const float s = j.scale;
  for (size_t i = begin; i < end; ++i) {
    const bool keep = (mask[i / 8] >> (i % 8)) & 1u;
    dx[i] = keep ? dy[i] * s : 0.0f;
  }
}

void fill_u32(const job& j, uint32_t* words, size_t begin, size_t end) {
  word_source source(j);
  size_t i = begin;
  while (i < end) {
    const uint64_t k = j.offset + i;
    const unsigned first = unsigned(k % rng::lanes);
    const size_t count = std::min<size_t>(rng::lanes - first, end - i);
    std::memcpy(words + i, source.word_register(k / rng::lanes) + first, count * sizeof(uint32_t));
    i += count;
  }
}

// The calls the scalar implementation has no loop of its own for are composed
// from its decisions and the portable apply loops (kernels/composed.hpp).
void forward_f64(const job& j, const double* x, double* y, uint8_t* mask, size_t begin, size_t end);
void forward_bf16(const job& j, const uint16_t* x, uint16_t* y, uint8_t* mask, size_t begin, size_t end);
void forward_f16(const job& j, const uint16_t* x, uint16_t* y, uint8_t* mask, size_t begin, size_t end);

detail::decision_kernels composed_kernels() {
  return {forward_f32, forward_f64, forward_bf16, forward_f16, mask_only, &detail::portable_apply_loops()};
}

void forward_f64(const job& j, const double* x, double* y, uint8_t* mask, size_t begin, size_t end) {
  detail::forward_f64_chunked(j, composed_kernels(), x, y, mask, begin, end);
}
void forward_bf16(const job& j, const uint16_t* x, uint16_t* y, uint8_t* mask, size_t begin, size_t end) {
  detail::forward_bf16_chunked(j, composed_kernels(), x, y, mask, begin, end);
}
void forward_f16(const job& j, const uint16_t* x, uint16_t* y, uint8_t* mask, size_t begin, size_t end) {
  detail::forward_f16_chunked(j, composed_kernels(), x, y, mask, begin, end);
}
void forward_view_f32(const job& j, const detail::view_2d<float>& v, const detail::tile& t) {
  detail::forward_view_f32_composed(j, composed_kernels(), v, t);
}
void forward_view_f64(const job& j, const detail::view_2d<double>& v, const detail::tile& t) {
  detail::forward_view_f64_composed(j, composed_kernels(), v, t);
}
void forward_view_bf16(const job& j, const detail::view_2d<uint16_t>& v, const detail::tile& t) {
  detail::forward_view_bf16_composed(j, composed_kernels(), v, t);
}
void forward_view_f16(const job& j, const detail::view_2d<uint16_t>& v, const detail::tile& t) {
  detail::forward_view_f16_composed(j, composed_kernels(), v, t);
}
void mask_view(const job& j, const detail::view_2d<float>& v, const detail::tile& t) {
  detail::mask_view_composed(j, composed_kernels(), v, t);
}
void forward_channels_f32(const job& j, const detail::channels_view& v, size_t begin, size_t end) {
  detail::forward_channels_f32_chunked(j, composed_kernels(), v, begin, end);
}
void bias_dropout_add_f32(const job& j, const detail::fused_view& v, size_t begin, size_t end) {
  detail::bias_dropout_add_f32_chunked(j, composed_kernels(), v, begin, end);
}

bool always_supported() { return true; }

}  // namespace
}  // namespace simdrop::scalar

namespace simdrop::detail {

const implementation& scalar_implementation() {
  static const implementation table{"scalar",
                                    "portable C++, no SIMD (the reference)",
                                    scalar::always_supported,
                                    scalar::forward_f32,
                                    scalar::forward_f64,
                                    scalar::forward_bf16,
                                    scalar::forward_f16,
                                    scalar::mask_only,
                                    scalar::backward_mask_f32,
                                    scalar::fill_u32,
                                    scalar::forward_view_f32,
                                    scalar::forward_view_f64,
                                    scalar::forward_view_bf16,
                                    scalar::forward_view_f16,
                                    scalar::mask_view,
                                    scalar::forward_channels_f32,
                                    scalar::bias_dropout_add_f32};
  return table;
}

}  // namespace simdrop::detail
