// Running a plan of layout.hpp on raw pointers: one flat call, or view calls
// looped over the outer dimensions, and the one piece of glue the view calls
// need: a mask in the Python API's layout (bit i of the array's local C-order
// position i, ceil(n/8) bytes) from view masks whose rows start on byte
// boundaries. Shared by the numpy module and the PyTorch extension; the copy
// route stays with each of them (it allocates arrays of their kind).
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "calls.hpp"
#include "layout.hpp"
#include "simdrop/simdrop.h"

namespace simdrop_python {

enum class Op { forward, backward, backward_mask };

// Appends rows x cols bits, row r at src + r*ldsrc bytes (bit c%8 of byte c/8),
// to dst starting at bit `at`, continuously (row r at bit at + r*cols). dst
// must be zero from bit `at` on; dst_bytes bounds every write.
inline void append_bits(uint8_t* dst, size_t dst_bytes, uint64_t at, const uint8_t* src, size_t ldsrc, uint64_t rows,
                        uint64_t cols) {
  for (uint64_t r = 0; r < rows; ++r, at += cols) {
    const uint8_t* row = src + r * ldsrc;
    const unsigned shift = unsigned(at & 7);
    for (uint64_t c = 0; c < cols; c += 8) {
      uint8_t byte = row[c / 8];
      if (cols - c < 8) byte &= uint8_t((1u << (cols - c)) - 1u);
      const uint64_t position = (at + c) >> 3;
      dst[position] |= uint8_t(byte << shift);
      if (shift != 0 && position + 1 < dst_bytes) dst[position + 1] |= uint8_t(byte >> (8 - shift));
    }
  }
}

// Runs `plan` (Route::flat or Route::views) from `in` to `out` with the
// parameters `p` (its offset is replaced by the plan's global indices).
// Forward writes the mask when mask_out is not null; the stored-mask backward
// reads mask_in (plans for it are always flat). Returns the first C status
// that is not SIMDROP_OK; the mask is complete only on success.
inline int run_plan(Op op, DType type, const Plan& plan, const void* in, void* out, const simdrop_params& p,
                    uint8_t* mask_out, const uint8_t* mask_in) {
  simdrop_params call = p;
  call.offset = plan.base;
  if (plan.route == Route::flat) {
    switch (op) {
      case Op::forward: return forward_flat(type, in, out, plan.n, &call, mask_out);
      case Op::backward: return backward_flat(type, in, out, plan.n, &call);
      case Op::backward_mask: return backward_mask_flat(type, in, mask_in, out, plan.n, &call);
    }
  }
  if (plan.route != Route::views || op == Op::backward_mask) return SIMDROP_ERR_ARGUMENT;

  const size_t mask_bytes = size_t((plan.n + 7) / 8);
  // With whole mask bytes per row, the view's mask rows are the API's mask;
  // otherwise each view writes a scratch mask that is appended bit by bit.
  const bool direct_mask = plan.cols % 8 == 0;
  const size_t scratch_ld = size_t((plan.cols + 7) / 8);
  std::vector<uint8_t> scratch;
  if (mask_out) {
    std::memset(mask_out, 0, mask_bytes);
    if (!direct_mask) scratch.resize(size_t(plan.rows) * scratch_ld);
  }
  const uint64_t per_call = plan.rows * plan.cols;
  std::vector<int64_t> counter(plan.outer.size(), 0);
  const uint64_t calls = plan.calls();
  const char* in_bytes = static_cast<const char*>(in);
  char* out_bytes = static_cast<char*>(out);
  int64_t in_at = 0, out_at = 0;
  uint64_t index_at = 0;
  for (uint64_t k = 0; k < calls; ++k) {
    call.offset = plan.base + index_at;
    const void* x = in_bytes + in_at;
    void* y = out_bytes + out_at;
    int status;
    if (op == Op::forward) {
      uint8_t* mask = nullptr;
      size_t ldmask = 0;
      if (mask_out) {
        mask = direct_mask ? mask_out + (k * per_call) / 8 : scratch.data();
        ldmask = direct_mask ? size_t(plan.cols / 8) : scratch_ld;
      }
      status = forward_view(type, x, size_t(plan.ld_in), y, size_t(plan.ld_out), size_t(plan.rows),
                            size_t(plan.cols), plan.index_ld, &call, mask, ldmask);
      if (status == SIMDROP_OK && mask_out && !direct_mask)
        append_bits(mask_out, mask_bytes, k * per_call, scratch.data(), scratch_ld, plan.rows, plan.cols);
    } else {
      status = backward_view(type, x, size_t(plan.ld_in), y, size_t(plan.ld_out), size_t(plan.rows),
                             size_t(plan.cols), plan.index_ld, &call);
    }
    if (status != SIMDROP_OK) return status;
    // Next outer index (an odometer, innermost outer dimension fastest).
    for (size_t j = plan.outer.size(); j-- > 0;) {
      const Dim& d = plan.outer[j];
      in_at += d.in_stride;
      out_at += d.out_stride;
      index_at += d.index_stride;
      if (++counter[j] < d.size) break;
      counter[j] = 0;
      in_at -= d.in_stride * d.size;
      out_at -= d.out_stride * d.size;
      index_at -= d.index_stride * uint64_t(d.size);
    }
  }
  return SIMDROP_OK;
}

}  // namespace simdrop_python
