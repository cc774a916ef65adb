// The C calls the Python bindings make, by element type, and the one thing the
// C API has no call for: applying stored keep bits to a type other than
// float32 (numpy's dropout_backward(mask=...) for float64/float16, the
// PyTorch save_mask backward and Dropout2d for float64/float16/bfloat16).
// Shared by the numpy module and the PyTorch extension.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "core/convert.hpp"
#include "simdrop/simdrop.h"

namespace simdrop_python {

enum class DType { f32, f64, f16, bf16 };

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::f16: return "float16";
    case DType::bf16: return "bfloat16";
  }
  return "?";
}

// A keep probability given as a double, rounded to the float simdrop_params holds
// (to nearest); values beyond float's range become infinities (for the C library
// to reject) instead of an undefined conversion.
inline float keep_prob_to_float(double keep_prob) {
  if (keep_prob > double(FLT_MAX)) return INFINITY;
  if (keep_prob < -double(FLT_MAX)) return -INFINITY;
  return float(keep_prob);
}

// ---------------------------------------------------------------- the C calls, by type

// y = dropout(x), mask optional (ceil(n/8) bytes, call-relative bits).
inline int forward_flat(DType t, const void* x, void* y, size_t n, const simdrop_params* p, uint8_t* mask) {
  switch (t) {
    case DType::f32: return simdrop_forward_f32(static_cast<const float*>(x), static_cast<float*>(y), n, p, mask);
    case DType::f64: return simdrop_forward_f64(static_cast<const double*>(x), static_cast<double*>(y), n, p, mask);
    case DType::f16:
      return simdrop_forward_f16(static_cast<const uint16_t*>(x), static_cast<uint16_t*>(y), n, p, mask);
    case DType::bf16:
      return simdrop_forward_bf16(static_cast<const uint16_t*>(x), static_cast<uint16_t*>(y), n, p, mask);
  }
  return SIMDROP_ERR_ARGUMENT;
}

// dx = backward(dy), regenerating the decisions.
inline int backward_flat(DType t, const void* dy, void* dx, size_t n, const simdrop_params* p) {
  switch (t) {
    case DType::f32: return simdrop_backward_f32(static_cast<const float*>(dy), static_cast<float*>(dx), n, p);
    case DType::f64: return simdrop_backward_f64(static_cast<const double*>(dy), static_cast<double*>(dx), n, p);
    case DType::f16:
      return simdrop_backward_f16(static_cast<const uint16_t*>(dy), static_cast<uint16_t*>(dx), n, p);
    case DType::bf16:
      return simdrop_backward_bf16(static_cast<const uint16_t*>(dy), static_cast<uint16_t*>(dx), n, p);
  }
  return SIMDROP_ERR_ARGUMENT;
}

// The view calls: rows x cols elements, element (r, c) at global index
// p->offset + r*index_ld + c; data rows ld_in / ld_out elements apart; mask
// (optional) rows ldmask bytes apart.
inline int forward_view(DType t, const void* x, size_t ld_in, void* y, size_t ld_out, size_t rows, size_t cols,
                        uint64_t index_ld, const simdrop_params* p, uint8_t* mask, size_t ldmask) {
  switch (t) {
    case DType::f32:
      return simdrop_forward_view_f32(static_cast<const float*>(x), ld_in, static_cast<float*>(y), ld_out, rows, cols,
                                      index_ld, p, mask, ldmask);
    case DType::f64:
      return simdrop_forward_view_f64(static_cast<const double*>(x), ld_in, static_cast<double*>(y), ld_out, rows,
                                      cols, index_ld, p, mask, ldmask);
    case DType::f16:
      return simdrop_forward_view_f16(static_cast<const uint16_t*>(x), ld_in, static_cast<uint16_t*>(y), ld_out,
                                      rows, cols, index_ld, p, mask, ldmask);
    case DType::bf16:
      return simdrop_forward_view_bf16(static_cast<const uint16_t*>(x), ld_in, static_cast<uint16_t*>(y), ld_out,
                                       rows, cols, index_ld, p, mask, ldmask);
  }
  return SIMDROP_ERR_ARGUMENT;
}

inline int backward_view(DType t, const void* dy, size_t ld_in, void* dx, size_t ld_out, size_t rows, size_t cols,
                         uint64_t index_ld, const simdrop_params* p) {
  switch (t) {
    case DType::f32:
      return simdrop_backward_view_f32(static_cast<const float*>(dy), ld_in, static_cast<float*>(dx), ld_out, rows,
                                       cols, index_ld, p);
    case DType::f64:
      return simdrop_backward_view_f64(static_cast<const double*>(dy), ld_in, static_cast<double*>(dx), ld_out,
                                       rows, cols, index_ld, p);
    case DType::f16:
      return simdrop_backward_view_f16(static_cast<const uint16_t*>(dy), ld_in, static_cast<uint16_t*>(dx), ld_out,
                                       rows, cols, index_ld, p);
    case DType::bf16:
      return simdrop_backward_view_bf16(static_cast<const uint16_t*>(dy), ld_in, static_cast<uint16_t*>(dx), ld_out,
                                        rows, cols, index_ld, p);
  }
  return SIMDROP_ERR_ARGUMENT;
}

// ---------------------------------------------------------------- stored bits, any type

// The contract's values (docs/stream.md, "Values" and the other-types rules of
// docs/runtime.md), for applying a decision that comes from stored bits rather
// than from a C call: T = floor(keep_prob * 2^bits + 0.5) in double; float32
// and the 16-bit types scale by the float s = (float)(2^bits / T), float64 by
// the double S = 2^bits / T; a dropped element is +0. bf16 and f16 round
// (float)x * s to nearest even (subnormals kept, overflow to infinity, NaN kept
// quiet with sign and top payload bits). The tests check these bit for bit
// against the C library's own regenerating calls, for every 16-bit pattern.
struct Scale {
  float s32 = 0.0f;
  double s64 = 0.0;
};

// Only for parameters a C call has accepted (keep_prob in [0, 1], threshold_bits valid).
inline Scale contract_scale(float keep_prob, uint32_t threshold_bits) {
  const double range = std::ldexp(1.0, int(threshold_bits));
  const double threshold = std::floor(double(keep_prob) * range + 0.5);
  Scale s;
  if (threshold != 0.0) {
    s.s64 = range / threshold;
    s.s32 = float(s.s64);
  }
  return s;
}

// The library's own conversions (round to nearest even, NaN kept quiet), the
// ones its f16 and bf16 calls use.
using simdrop::detail::bf16_to_float;
using simdrop::detail::float_to_bf16;
using simdrop::detail::float_to_half;
using simdrop::detail::half_to_float;

template <DType T> struct storage;
template <> struct storage<DType::f32> { using type = float; };
template <> struct storage<DType::f64> { using type = double; };
template <> struct storage<DType::f16> { using type = uint16_t; };
template <> struct storage<DType::bf16> { using type = uint16_t; };

template <DType T>
inline typename storage<T>::type kept_value(typename storage<T>::type x, const Scale& s) {
  if constexpr (T == DType::f32) return x * s.s32;
  else if constexpr (T == DType::f64) return x * s.s64;
  else if constexpr (T == DType::f16) return float_to_half(half_to_float(x) * s.s32);
  else return float_to_bf16(bf16_to_float(x) * s.s32);
}

// Status of a call that writes nothing, for parameters and index range:
// the same checks (and statuses) the C calls start with.
inline int check_params_and_range(const simdrop_params* p, uint64_t n) {
  if (int status = simdrop_mask(nullptr, 0, p)) return status;
  if (n != 0 && n - 1 > UINT64_MAX - p->offset) return SIMDROP_ERR_INDEX_OVERFLOW;
  return SIMDROP_OK;
}

inline bool bit(const uint8_t* bits, uint64_t i) { return (bits[i >> 3] >> (i & 7)) & 1u; }

// dx[i] = bit i of mask ? kept(dy[i]) : +0, for n contiguous elements. float32
// goes to simdrop_backward_mask_f32; the other types use the contract's values
// above. dy == dx is allowed; the caller has checked every other overlap.
template <DType T>
inline int apply_mask_typed(const void* in, void* out, size_t n, const uint8_t* mask, const simdrop_params* p) {
  using S = typename storage<T>::type;
  if (int status = check_params_and_range(p, n)) return status;
  const Scale s = contract_scale(p->keep_prob, p->threshold_bits);
  const S* x = static_cast<const S*>(in);
  S* y = static_cast<S*>(out);
  for (size_t i = 0; i < n; ++i) y[i] = bit(mask, i) ? kept_value<T>(x[i], s) : S(0);
  return SIMDROP_OK;
}

inline int backward_mask_flat(DType t, const void* dy, const uint8_t* mask, void* dx, size_t n,
                              const simdrop_params* p) {
  switch (t) {
    case DType::f32:
      return simdrop_backward_mask_f32(static_cast<const float*>(dy), mask, static_cast<float*>(dx), n, p);
    case DType::f64: return apply_mask_typed<DType::f64>(dy, dx, n, mask, p);
    case DType::f16: return apply_mask_typed<DType::f16>(dy, dx, n, mask, p);
    case DType::bf16: return apply_mask_typed<DType::bf16>(dy, dx, n, mask, p);
  }
  return SIMDROP_ERR_ARGUMENT;
}

// Channel dropout on a contiguous (channels_last = 0: N, C, spatial) or
// channels-last (N, spatial, C) buffer from the decisions of batch*channels
// channels (bit n*channels + c of `decisions`), for any type.
template <DType T>
inline void apply_channels_typed(const void* in, void* out, size_t batch, size_t channels, size_t spatial,
                                 bool channels_last, const uint8_t* decisions, const Scale& s) {
  using S = typename storage<T>::type;
  const S* x = static_cast<const S*>(in);
  S* y = static_cast<S*>(out);
  for (size_t b = 0; b < batch; ++b)
    for (size_t c = 0; c < channels; ++c) {
      const bool keep = bit(decisions, uint64_t(b) * channels + c);
      for (size_t k = 0; k < spatial; ++k) {
        const size_t i = channels_last ? (b * spatial + k) * channels + c : (b * channels + c) * spatial + k;
        y[i] = keep ? kept_value<T>(x[i], s) : S(0);
      }
    }
}

}  // namespace simdrop_python
