// simdrop: fused, deterministic inverted dropout on the CPU -- the C++ API.
//
// Header-only inline wrappers over the C API (simdrop/simdrop.h): every call
// goes straight to the matching simdrop_* function, so there is exactly one
// implementation and the results are the C API's, bit for bit. What this layer
// adds is C++ vocabulary:
//  - `simdrop::generator`, an enum class, and `simdrop::params`, a struct with
//    defaults and chainable setters that converts to and from simdrop_params;
//  - `simdrop::error` (a std::invalid_argument) thrown for every nonzero status,
//    carrying the status and simdrop_status_string's message;
//  - pointer + size overloads, and overloads taking any contiguous buffer
//    (anything std::data and std::size accept: std::vector, std::array, a C
//    array, a user view with data()/size()).
//
// The container overloads check one thing the C API cannot: that the buffers
// they are given have matching sizes (equal element counts; masks at least
// mask_bytes(n) bytes). A mismatch throws simdrop::error with status
// SIMDROP_ERR_ARGUMENT before anything is written. Every other check is the C
// API's own, so each error has the same status from C and from C++.
#ifndef SIMDROP_SIMDROP_HPP
#define SIMDROP_SIMDROP_HPP

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "simdrop/simdrop.h"

namespace simdrop {

// ---------------------------------------------------------------- vocabulary

// The word generator of the stream contract (docs/stream.md).
enum class generator : std::underlying_type_t<simdrop_generator> {
  philox4x32_10 = SIMDROP_PHILOX4X32_10,  // Random123's philox4x32, 10 rounds
  xoshiro128pp = SIMDROP_XOSHIRO128PP,    // 16 xoshiro128++ lanes per tile, seeded by Philox
};

// Thrown by every wrapper whose C call returns a nonzero status.
class error : public std::invalid_argument {
 public:
  explicit error(int status) : std::invalid_argument(simdrop_status_string(status)), status_(status) {}
  // The SIMDROP_ERR_* value the C API returned.
  int status() const noexcept { return status_; }

 private:
  int status_;
};

// Throws simdrop::error unless status is SIMDROP_OK.
inline void check(int status) {
  if (status != SIMDROP_OK) throw error(status);
}

// Bytes of a mask for n elements: ceil(n / 8), without overflow.
constexpr std::size_t mask_bytes(std::size_t n) noexcept { return n / 8 + (n % 8 != 0 ? 1 : 0); }

// The parameters of one call. Defaults: keep_prob 1 (keep everything), seed 0,
// stream 0, offset 0, Philox, 16-bit threshold -- params(keep_prob, seed) is
// simdrop_params_default(keep_prob, seed). Fields can be set directly or with
// the chainable setters:
//   auto p = simdrop::params(0.9f, seed).with_stream(layer).with_offset(first);
struct params {
  float keep_prob = 1.0f;   // probability of keeping an element, in [0, 1]
  std::uint64_t seed = 0;   // Philox key
  std::uint64_t stream = 0; // independent stream, e.g. layer id and step
  std::uint64_t offset = 0; // global index of element 0 of the call
  ::simdrop::generator generator = ::simdrop::generator::philox4x32_10;
  std::uint32_t threshold_bits = 16;  // 16 (the default since 0.2.0), 32 or 8

  params() = default;
  explicit params(float keep_prob_, std::uint64_t seed_ = 0) : keep_prob(keep_prob_), seed(seed_) {}
  // Implicit, so a simdrop_params can be passed wherever params is expected.
  params(const simdrop_params& c)  // NOLINT(google-explicit-constructor)
      : keep_prob(c.keep_prob),
        seed(c.seed),
        stream(c.stream),
        offset(c.offset),
        threshold_bits(c.threshold_bits) {
    // Copied as its integer value, not loaded as an enum: see c().
    static_assert(sizeof(c.generator) == sizeof(generator), "generator must match simdrop_generator");
    std::memcpy(&generator, &c.generator, sizeof generator);
  }

  params& with_keep_prob(float v) { keep_prob = v; return *this; }
  params& with_seed(std::uint64_t v) { seed = v; return *this; }
  params& with_stream(std::uint64_t v) { stream = v; return *this; }
  params& with_offset(std::uint64_t v) { offset = v; return *this; }
  params& with_generator(::simdrop::generator v) { generator = v; return *this; }
  params& with_threshold_bits(std::uint32_t v) { threshold_bits = v; return *this; }

  // The C struct. The generator is copied as its integer value, so a value
  // outside the enum reaches the C API unchanged, which reports it
  // (SIMDROP_ERR_GENERATOR) in its usual order of checks.
  simdrop_params c() const noexcept {
    simdrop_params out;
    std::memset(&out, 0, sizeof out);
    out.keep_prob = keep_prob;
    out.seed = seed;
    out.stream = stream;
    out.offset = offset;
    std::memcpy(&out.generator, &generator, sizeof generator);
    out.threshold_bits = threshold_bits;
    return out;
  }
  operator simdrop_params() const noexcept { return c(); }  // NOLINT(google-explicit-constructor)
};

namespace wrapper_detail {

template <class C>
using data_t = decltype(std::data(std::declval<C&>()));

// C is a contiguous buffer whose data() is exactly T* (T may be const).
template <class C, class T, class = void>
struct is_buffer_of : std::false_type {};
template <class C, class T>
struct is_buffer_of<C, T, std::void_t<data_t<C>, decltype(std::size(std::declval<C&>()))>>
    : std::is_same<data_t<C>, T*> {};

template <class C, class T>
inline constexpr bool is_buffer_of_v = is_buffer_of<std::remove_reference_t<C>, T>::value;

template <class In, class Out, class T>
using enable_in_out = std::enable_if_t<is_buffer_of_v<const In, const T> && is_buffer_of_v<Out, T>, int>;

template <class C>
std::size_t size_of(C& c) {
  return static_cast<std::size_t>(std::size(c));
}

// Container overloads: a size mismatch is SIMDROP_ERR_ARGUMENT.
inline void require(bool ok) {
  if (!ok) throw error(SIMDROP_ERR_ARGUMENT);
}

}  // namespace wrapper_detail

// ---------------------------------------------------------- element-wise f32

// y[i] = keep(i) ? x[i] * s : +0. mask (may be null): mask_bytes(n) bytes of keep bits.
inline void forward(const float* x, float* y, std::size_t n, const params& p, std::uint8_t* mask = nullptr) {
  const simdrop_params c = p.c();
  check(simdrop_forward_f32(x, y, n, &c, mask));
}

// dx[i] = keep(i) ? dy[i] * s : +0, regenerating the decisions from p.
inline void backward(const float* dy, float* dx, std::size_t n, const params& p) {
  const simdrop_params c = p.c();
  check(simdrop_backward_f32(dy, dx, n, &c));
}

// dx[i] = bit i of mask ? dy[i] * s : +0.
inline void backward_mask(const float* dy, const std::uint8_t* mask, float* dx, std::size_t n, const params& p) {
  const simdrop_params c = p.c();
  check(simdrop_backward_mask_f32(dy, mask, dx, n, &c));
}

// The keep bits of a forward call of n elements: mask_bytes(n) bytes.
inline void mask(std::uint8_t* mask, std::size_t n, const params& p) {
  const simdrop_params c = p.c();
  check(simdrop_mask(mask, n, &c));
}

// words[i] = W[p.offset + i], the generator's raw word stream.
inline void fill_u32(std::uint32_t* words, std::size_t n, const params& p) {
  const simdrop_params c = p.c();
  check(simdrop_fill_u32(words, n, &c));
}

// ---------------------------------------------------------- element-wise f64

// As the f32 calls, with the scale (double)(2^bits / T); same decisions and mask bits.
inline void forward(const double* x, double* y, std::size_t n, const params& p, std::uint8_t* mask = nullptr) {
  const simdrop_params c = p.c();
  check(simdrop_forward_f64(x, y, n, &c, mask));
}

inline void backward(const double* dy, double* dx, std::size_t n, const params& p) {
  const simdrop_params c = p.c();
  check(simdrop_backward_f64(dy, dx, n, &c));
}

// ----------------------------------------------- bf16 and f16 (as uint16_t bits)

inline void forward_bf16(const std::uint16_t* x, std::uint16_t* y, std::size_t n, const params& p,
                         std::uint8_t* mask = nullptr) {
  const simdrop_params c = p.c();
  check(simdrop_forward_bf16(x, y, n, &c, mask));
}

inline void backward_bf16(const std::uint16_t* dy, std::uint16_t* dx, std::size_t n, const params& p) {
  const simdrop_params c = p.c();
  check(simdrop_backward_bf16(dy, dx, n, &c));
}

inline void forward_f16(const std::uint16_t* x, std::uint16_t* y, std::size_t n, const params& p,
                        std::uint8_t* mask = nullptr) {
  const simdrop_params c = p.c();
  check(simdrop_forward_f16(x, y, n, &c, mask));
}

inline void backward_f16(const std::uint16_t* dy, std::uint16_t* dx, std::size_t n, const params& p) {
  const simdrop_params c = p.c();
  check(simdrop_backward_f16(dy, dx, n, &c));
}

// ------------------------------------------------------- container overloads
// Element buffers must have equal sizes; masks at least mask_bytes(n) bytes.
// Element types: float or double for forward/backward/backward_mask.

template <class In, class Out, wrapper_detail::enable_in_out<In, Out, float> = 0>
void forward(const In& x, Out&& y, const params& p) {
  wrapper_detail::require(wrapper_detail::size_of(x) == wrapper_detail::size_of(y));
  forward(std::data(x), std::data(y), wrapper_detail::size_of(x), p);
}

template <class In, class Out, wrapper_detail::enable_in_out<In, Out, double> = 0>
void forward(const In& x, Out&& y, const params& p) {
  wrapper_detail::require(wrapper_detail::size_of(x) == wrapper_detail::size_of(y));
  forward(std::data(x), std::data(y), wrapper_detail::size_of(x), p);
}

template <class In, class Out, class Mask, wrapper_detail::enable_in_out<In, Out, float> = 0,
          std::enable_if_t<wrapper_detail::is_buffer_of_v<Mask, std::uint8_t>, int> = 0>
void forward(const In& x, Out&& y, const params& p, Mask&& mask_out) {
  const std::size_t n = wrapper_detail::size_of(x);
  wrapper_detail::require(n == wrapper_detail::size_of(y) && wrapper_detail::size_of(mask_out) >= mask_bytes(n));
  forward(std::data(x), std::data(y), n, p, std::data(mask_out));
}

template <class In, class Out, class Mask, wrapper_detail::enable_in_out<In, Out, double> = 0,
          std::enable_if_t<wrapper_detail::is_buffer_of_v<Mask, std::uint8_t>, int> = 0>
void forward(const In& x, Out&& y, const params& p, Mask&& mask_out) {
  const std::size_t n = wrapper_detail::size_of(x);
  wrapper_detail::require(n == wrapper_detail::size_of(y) && wrapper_detail::size_of(mask_out) >= mask_bytes(n));
  forward(std::data(x), std::data(y), n, p, std::data(mask_out));
}

template <class In, class Out, wrapper_detail::enable_in_out<In, Out, float> = 0>
void backward(const In& dy, Out&& dx, const params& p) {
  wrapper_detail::require(wrapper_detail::size_of(dy) == wrapper_detail::size_of(dx));
  backward(std::data(dy), std::data(dx), wrapper_detail::size_of(dy), p);
}

template <class In, class Out, wrapper_detail::enable_in_out<In, Out, double> = 0>
void backward(const In& dy, Out&& dx, const params& p) {
  wrapper_detail::require(wrapper_detail::size_of(dy) == wrapper_detail::size_of(dx));
  backward(std::data(dy), std::data(dx), wrapper_detail::size_of(dy), p);
}

template <class In, class Mask, class Out, wrapper_detail::enable_in_out<In, Out, float> = 0,
          std::enable_if_t<wrapper_detail::is_buffer_of_v<const Mask, const std::uint8_t>, int> = 0>
void backward_mask(const In& dy, const Mask& mask_in, Out&& dx, const params& p) {
  const std::size_t n = wrapper_detail::size_of(dy);
  wrapper_detail::require(n == wrapper_detail::size_of(dx) && wrapper_detail::size_of(mask_in) >= mask_bytes(n));
  backward_mask(std::data(dy), std::data(mask_in), std::data(dx), n, p);
}

// The keep bits of n elements into a byte buffer of at least mask_bytes(n) bytes.
template <class Mask, std::enable_if_t<wrapper_detail::is_buffer_of_v<Mask, std::uint8_t>, int> = 0>
void mask(Mask&& mask_out, std::size_t n, const params& p) {
  wrapper_detail::require(wrapper_detail::size_of(mask_out) >= mask_bytes(n));
  mask(std::data(mask_out), n, p);
}

// Fills the whole buffer: words[i] = W[p.offset + i].
template <class Words, std::enable_if_t<wrapper_detail::is_buffer_of_v<Words, std::uint32_t>, int> = 0>
void fill_u32(Words&& words, const params& p) {
  fill_u32(std::data(words), wrapper_detail::size_of(words), p);
}

template <class In, class Out, wrapper_detail::enable_in_out<In, Out, std::uint16_t> = 0>
void forward_bf16(const In& x, Out&& y, const params& p) {
  wrapper_detail::require(wrapper_detail::size_of(x) == wrapper_detail::size_of(y));
  forward_bf16(std::data(x), std::data(y), wrapper_detail::size_of(x), p);
}

template <class In, class Out, wrapper_detail::enable_in_out<In, Out, std::uint16_t> = 0>
void backward_bf16(const In& dy, Out&& dx, const params& p) {
  wrapper_detail::require(wrapper_detail::size_of(dy) == wrapper_detail::size_of(dx));
  backward_bf16(std::data(dy), std::data(dx), wrapper_detail::size_of(dy), p);
}

template <class In, class Out, wrapper_detail::enable_in_out<In, Out, std::uint16_t> = 0>
void forward_f16(const In& x, Out&& y, const params& p) {
  wrapper_detail::require(wrapper_detail::size_of(x) == wrapper_detail::size_of(y));
  forward_f16(std::data(x), std::data(y), wrapper_detail::size_of(x), p);
}

template <class In, class Out, wrapper_detail::enable_in_out<In, Out, std::uint16_t> = 0>
void backward_f16(const In& dy, Out&& dx, const params& p) {
  wrapper_detail::require(wrapper_detail::size_of(dy) == wrapper_detail::size_of(dx));
  backward_f16(std::data(dy), std::data(dx), wrapper_detail::size_of(dy), p);
}

// ------------------------------------------- 2-D views, channels, fused residual

// Element (r, c) has global index p.offset + r*cols + c, whatever the leading dimensions.
// Mask bit c % 8 of byte r*ldmask + c/8 (mask may be null).
inline void forward_2d(const float* x, std::size_t ldx, float* y, std::size_t ldy, std::size_t rows,
                       std::size_t cols, const params& p, std::uint8_t* mask = nullptr, std::size_t ldmask = 0) {
  const simdrop_params c = p.c();
  check(simdrop_forward_2d_f32(x, ldx, y, ldy, rows, cols, &c, mask, ldmask));
}

inline void backward_2d(const float* dy, std::size_t lddy, float* dx, std::size_t lddx, std::size_t rows,
                        std::size_t cols, const params& p) {
  const simdrop_params c = p.c();
  check(simdrop_backward_2d_f32(dy, lddy, dx, lddx, rows, cols, &c));
}

// One decision per (n, c) at global index p.offset + n*channels + c, applied to
// all `spatial` positions; NCHW-like, or NHWC-like when channels_last.
inline void forward_channels(const float* x, float* y, std::size_t batch, std::size_t channels,
                             std::size_t spatial, bool channels_last, const params& p,
                             std::uint8_t* mask = nullptr) {
  const simdrop_params c = p.c();
  check(simdrop_forward_channels_f32(x, y, batch, channels, spatial, channels_last ? 1 : 0, &c, mask));
}

// y = residual + dropout(x + bias), bias broadcast over rows of `cols` contiguous elements.
inline void bias_dropout_add(const float* x, const float* bias, const float* residual, float* y,
                             std::size_t rows, std::size_t cols, const params& p, std::uint8_t* mask = nullptr) {
  const simdrop_params c = p.c();
  check(simdrop_bias_dropout_add_f32(x, bias, residual, y, rows, cols, &c, mask));
}

// ------------------------------------------------------------------ raw Philox

// Random123's philox4x32 with 10 rounds, bit-exact.
inline void philox4x32_10(const std::uint32_t ctr[4], const std::uint32_t key[2], std::uint32_t out[4]) noexcept {
  simdrop_philox4x32_10(ctr, key, out);
}

inline std::array<std::uint32_t, 4> philox4x32_10(const std::array<std::uint32_t, 4>& ctr,
                                                  const std::array<std::uint32_t, 2>& key) noexcept {
  std::array<std::uint32_t, 4> out{};
  simdrop_philox4x32_10(ctr.data(), key.data(), out.data());
  return out;
}

// ------------------------------------------------- implementations and threads

// Forces an implementation ("scalar", "avx2", "avx512", "neon"), or "auto" to
// return to detection. Throws SIMDROP_ERR_UNKNOWN_ISA / SIMDROP_ERR_UNSUPPORTED_ISA.
inline void set_isa(const char* name) { check(simdrop_set_isa(name)); }
inline void set_isa(const std::string& name) { set_isa(name.c_str()); }

// The implementation calls use now.
inline std::string active_isa() { return simdrop_active_isa(); }

// The implementations compiled into this build, best first.
inline std::vector<std::string> isa_names() {
  std::vector<std::string> names;
  const std::size_t count = simdrop_isa_count();
  names.reserve(count);
  for (std::size_t i = 0; i < count; ++i) names.emplace_back(simdrop_isa_name(i));
  return names;
}

// Whether `name` is compiled in and this CPU and OS can run it.
inline bool isa_supported(const std::string& name) { return simdrop_isa_supported(name.c_str()) != 0; }

// Threads one call may use; 0 returns to OpenMP's default. Throws SIMDROP_ERR_NUM_THREADS if n < 0.
inline void set_num_threads(int n) { check(simdrop_set_num_threads(n)); }
inline int num_threads() { return simdrop_get_num_threads(); }

// simdrop_status_string as a std::string.
inline std::string status_string(int status) { return simdrop_status_string(status); }

}  // namespace simdrop

#endif  // SIMDROP_SIMDROP_HPP
