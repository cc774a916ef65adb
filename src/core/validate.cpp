// Argument validation for every public call (see validate.hpp for the rules).
#include "core/validate.hpp"

#include <cmath>
#include <cstring>

namespace simdrop::detail {
namespace {

// Global indices offset .. offset + count - 1 must all exist (offset + count <= 2^64).
int check_index_range(uint64_t offset, uint64_t count) {
  if (count != 0 && count - 1 > UINT64_MAX - offset) return SIMDROP_ERR_INDEX_OVERFLOW;
  return SIMDROP_OK;
}

// a * b without wrapping, or SIMDROP_ERR_INDEX_OVERFLOW: in global indices
// (64 bits) and in sizes (size_t).
int checked_index_mul(uint64_t a, uint64_t b, uint64_t* out) {
  if (a != 0 && b > UINT64_MAX / a) return SIMDROP_ERR_INDEX_OVERFLOW;
  *out = a * b;
  return SIMDROP_OK;
}

int checked_mul(size_t a, size_t b, size_t* out) {
  if (a != 0 && b > SIZE_MAX / a) return SIMDROP_ERR_INDEX_OVERFLOW;
  *out = a * b;
  return SIMDROP_OK;
}

// Bytes from the first to one past the last element of a rows x row view with
// rows `ld` elements apart (rows, row > 0), or SIMDROP_ERR_INDEX_OVERFLOW.
int view_bytes(size_t rows, size_t row, size_t ld, size_t element_bytes, size_t* out) {
  size_t last_row_start = 0;
  if (int s = checked_mul(rows - 1, ld, &last_row_start)) return s;
  if (row > SIZE_MAX - last_row_start) return SIMDROP_ERR_INDEX_OVERFLOW;
  return checked_mul(last_row_start + row, element_bytes, out);
}

// Half-open byte ranges [a, a + a_bytes) and [b, b + b_bytes) share a byte.
bool byte_ranges_overlap(const void* a, size_t a_bytes, const void* b, size_t b_bytes) {
  if (!a || !b || a_bytes == 0 || b_bytes == 0) return false;
  const uintptr_t pa = reinterpret_cast<uintptr_t>(a), pb = reinterpret_cast<uintptr_t>(b);
  return pa < pb + b_bytes && pb < pa + a_bytes;
}

// An input and an output of the same element type: exact aliasing (in place) is
// allowed, any other overlap is not.
bool partial_overlap(const void* in, const void* out, size_t bytes) {
  return in != out && byte_ranges_overlap(in, bytes, out, bytes);
}

}  // namespace

int check_params(const simdrop_params* p) {
  if (!p) return SIMDROP_ERR_NULL_PARAMS;
  const float k = p->keep_prob;
  if (!std::isfinite(k) || !(k >= 0.0f) || !(k <= 1.0f)) return SIMDROP_ERR_KEEP_PROB;
  if (p->threshold_bits != 8 && p->threshold_bits != 16 && p->threshold_bits != 32) return SIMDROP_ERR_THRESHOLD_BITS;
  // Read the enum's bytes as an int: a caller's out-of-range value must not be
  // loaded as a simdrop_generator (undefined behaviour).
  int generator;
  static_assert(sizeof generator == sizeof p->generator, "simdrop_generator is int-sized");
  std::memcpy(&generator, &p->generator, sizeof generator);
  if (generator != SIMDROP_PHILOX4X32_10 && generator != SIMDROP_XOSHIRO128PP) return SIMDROP_ERR_GENERATOR;
  return SIMDROP_OK;
}

int validate_elementwise(const elementwise_args& a, bool* work) {
  *work = false;
  if (int s = check_params(a.p)) return s;
  if (a.n != 0 && ((a.x_required && !a.x) || (a.y_required && !a.y) || (a.mask_required && !a.mask)))
    return SIMDROP_ERR_NULL_POINTER;
  if (a.element_bytes != 0 && a.n > SIZE_MAX / a.element_bytes) return SIMDROP_ERR_INDEX_OVERFLOW;
  if (int s = check_index_range(a.p->offset, a.n)) return s;
  if (a.n == 0) return SIMDROP_OK;
  const size_t bytes = a.n * a.element_bytes, m_bytes = mask_bytes(a.n);
  // A written mask may meet no other buffer; a mask that is read, no output.
  if (partial_overlap(a.x, a.y, bytes) || byte_ranges_overlap(a.mask, m_bytes, a.y, bytes) ||
      (a.mask_written && byte_ranges_overlap(a.mask, m_bytes, a.x, bytes)))
    return SIMDROP_ERR_OVERLAP;
  *work = true;
  return SIMDROP_OK;
}

// The global indices of a view's elements, offset .. offset + (rows - 1) *
// index_ld + cols - 1, must all exist (rows, cols > 0).
static int check_view_indices(uint64_t offset, size_t rows, size_t cols, uint64_t index_ld) {
  uint64_t last_row_index = 0;
  if (int s = checked_index_mul(uint64_t(rows - 1), index_ld, &last_row_index)) return s;
  if (cols > UINT64_MAX - last_row_index) return SIMDROP_ERR_INDEX_OVERFLOW;
  return check_index_range(offset, last_row_index + cols);
}

int validate_view(const view_args& a, bool* work) {
  *work = false;
  if (int s = check_params(a.p)) return s;
  const bool empty = a.rows == 0 || a.cols == 0;
  if (!empty && (!a.in || !a.out)) return SIMDROP_ERR_NULL_POINTER;
  if (a.ld_in < a.cols || a.ld_out < a.cols || a.index_ld < a.cols) return SIMDROP_ERR_LEADING_DIM;
  const size_t mask_row_bytes = mask_bytes(a.cols);
  if (a.mask && a.ldmask < mask_row_bytes) return SIMDROP_ERR_LEADING_DIM;
  if (empty) return SIMDROP_OK;
  size_t n = 0;
  if (int s = checked_mul(a.rows, a.cols, &n)) return s;
  if (int s = check_view_indices(a.p->offset, a.rows, a.cols, a.index_ld)) return s;
  size_t in_bytes = 0, out_bytes = 0, mask_span = 0;
  if (int s = view_bytes(a.rows, a.cols, a.ld_in, a.element_bytes, &in_bytes)) return s;
  if (int s = view_bytes(a.rows, a.cols, a.ld_out, a.element_bytes, &out_bytes)) return s;
  if (a.mask)
    if (int s = view_bytes(a.rows, mask_row_bytes, a.ldmask, 1, &mask_span)) return s;
  // In place only as the very same view; any other shared byte between the
  // spans of the two views (first to last element) is an overlap.
  const bool same_view = a.in == a.out && a.ld_in == a.ld_out;
  if (!same_view && byte_ranges_overlap(a.in, in_bytes, a.out, out_bytes)) return SIMDROP_ERR_OVERLAP;
  if (byte_ranges_overlap(a.mask, mask_span, a.in, in_bytes) || byte_ranges_overlap(a.mask, mask_span, a.out, out_bytes))
    return SIMDROP_ERR_OVERLAP;
  *work = true;
  return SIMDROP_OK;
}

int validate_mask_view(const simdrop_params* p, const uint8_t* mask, size_t ldmask, size_t rows, size_t cols,
                       uint64_t index_ld, bool* work) {
  *work = false;
  if (int s = check_params(p)) return s;
  const bool empty = rows == 0 || cols == 0;
  if (!empty && !mask) return SIMDROP_ERR_NULL_POINTER;
  if (ldmask < mask_bytes(cols) || index_ld < cols) return SIMDROP_ERR_LEADING_DIM;
  if (empty) return SIMDROP_OK;
  size_t n = 0, span = 0;
  if (int s = checked_mul(rows, cols, &n)) return s;
  if (int s = check_view_indices(p->offset, rows, cols, index_ld)) return s;
  if (int s = view_bytes(rows, mask_bytes(cols), ldmask, 1, &span)) return s;
  *work = true;
  return SIMDROP_OK;
}

int validate_channels(const simdrop_params* p, const float* x, const float* y, size_t batch, size_t channels,
                      size_t spatial, int channels_last, const uint8_t* mask, bool* work) {
  *work = false;
  if (int s = check_params(p)) return s;
  if (channels_last != 0 && channels_last != 1) return SIMDROP_ERR_ARGUMENT;
  size_t decisions = 0, n = 0, bytes = 0;
  if (int s = checked_mul(batch, channels, &decisions)) return s;
  if (int s = checked_mul(decisions, spatial, &n)) return s;
  if (n != 0 && (!x || !y)) return SIMDROP_ERR_NULL_POINTER;
  if (int s = check_index_range(p->offset, decisions)) return s;
  if (int s = checked_mul(n, sizeof(float), &bytes)) return s;
  const size_t m_bytes = mask ? mask_bytes(decisions) : 0;
  if (partial_overlap(x, y, bytes) || byte_ranges_overlap(mask, m_bytes, x, bytes) ||
      byte_ranges_overlap(mask, m_bytes, y, bytes))
    return SIMDROP_ERR_OVERLAP;
  *work = decisions != 0 && (n != 0 || mask);
  return SIMDROP_OK;
}

int validate_fused(const simdrop_params* p, const float* x, const float* bias, const float* residual, const float* y,
                   size_t rows, size_t cols, const uint8_t* mask, bool* work) {
  *work = false;
  if (int s = check_params(p)) return s;
  size_t n = 0;
  if (int s = checked_mul(rows, cols, &n)) return s;
  if (n != 0 && (!x || !bias || !residual || !y)) return SIMDROP_ERR_NULL_POINTER;
  if (int s = check_index_range(p->offset, n)) return s;
  if (n == 0) return SIMDROP_OK;
  size_t bytes = 0;
  if (int s = checked_mul(n, sizeof(float), &bytes)) return s;
  const size_t bias_bytes = cols * sizeof(float);  // <= bytes, cannot overflow
  const size_t m_bytes = mask ? mask_bytes(n) : 0;
  // y may be x or residual exactly (in place); bias is read for every row, so
  // y may not touch it at all.
  if (partial_overlap(x, y, bytes) || partial_overlap(residual, y, bytes) ||
      byte_ranges_overlap(bias, bias_bytes, y, bytes))
    return SIMDROP_ERR_OVERLAP;
  if (byte_ranges_overlap(mask, m_bytes, x, bytes) || byte_ranges_overlap(mask, m_bytes, y, bytes) ||
      byte_ranges_overlap(mask, m_bytes, residual, bytes) || byte_ranges_overlap(mask, m_bytes, bias, bias_bytes))
    return SIMDROP_ERR_OVERLAP;
  *work = true;
  return SIMDROP_OK;
}

}  // namespace simdrop::detail
