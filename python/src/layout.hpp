// The index rule of the Python bindings, and how a strided array is mapped onto
// simdrop's C calls. Shared by the numpy module and the PyTorch extension.
//
// Index rule: the element at logical C-order position i of an array (the order
// of numpy's x.flat) has global index offset + i, whatever the array's strides.
// An IndexMap states that rule per dimension: the element at multi-index
// (i_0, ..., i_k) has global index base + sum_j i_j * strides[j]. Today every
// array is its own global tensor (c_order_index); a shard of a larger tensor
// (issue 12's global_shape / shard_start) is another IndexMap over the same
// machinery, with base and strides taken from the global shape.
//
// Routes, cheapest first (plan_elementwise):
//   flat  input and output are C-contiguous and the index map is C-order: one
//         1-D call at `base`.
//   rows  after merging dimensions that are contiguous in memory and in index
//         space, both arrays are rows of `cols` unit-stride elements with a
//         whole-element row stride, and row r starts at global index
//         base + r * cols: one 2-D call (float32 only; only float32 has them).
//   copy  anything else (negative or zero strides, a stride that is not a
//         whole number of elements, misaligned data, more than two dimensions
//         left after merging): the caller copies the input into a C-contiguous
//         buffer, makes one flat call, and copies the result into the output.
//         That costs one extra read and write of the input and of the output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace simdrop_python {

// A strided n-d array: element (i_0, ..., i_k) lives at data + sum_j i_j * strides[j] bytes.
struct Strided {
  const void* data = nullptr;
  int64_t itemsize = 0;
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;  // bytes
};

// Global index of element (i_0, ..., i_k): base + sum_j i_j * strides[j].
struct IndexMap {
  uint64_t base = 0;
  std::vector<uint64_t> strides;  // elements of index space
};

inline uint64_t element_count(const std::vector<int64_t>& sizes) {
  uint64_t n = 1;
  for (int64_t s : sizes) n *= uint64_t(s);
  return n;
}

// The index rule of issue 11: logical C-order position i has index offset + i.
inline IndexMap c_order_index(const std::vector<int64_t>& sizes, uint64_t offset) {
  IndexMap map;
  map.base = offset;
  map.strides.assign(sizes.size(), 0);
  uint64_t stride = 1;
  for (size_t j = sizes.size(); j-- > 0;) {
    map.strides[j] = stride;
    stride *= uint64_t(sizes[j]);
  }
  return map;
}

// True when the array's bytes are exactly its elements in C order.
inline bool c_contiguous(const Strided& a) {
  int64_t expected = a.itemsize;
  for (size_t j = a.sizes.size(); j-- > 0;) {
    if (a.sizes[j] != 1 && a.strides[j] != expected) return false;
    expected *= a.sizes[j];
  }
  return true;
}

enum class Route { flat, rows, copy };

struct Plan {
  Route route = Route::copy;
  uint64_t n = 0;           // elements
  uint64_t rows = 0;        // Route::rows: rows x cols, leading dimensions in elements
  uint64_t cols = 0;
  uint64_t ld_in = 0;
  uint64_t ld_out = 0;
};

namespace detail {

// One dimension of the element-wise problem, seen by the input, the output and the index map.
struct Dim {
  int64_t size;
  int64_t in_stride;
  int64_t out_stride;
  uint64_t index_stride;
};

inline bool aligned(const Strided& a) {
  if (reinterpret_cast<uintptr_t>(a.data) % uint64_t(a.itemsize) != 0) return false;
  for (int64_t s : a.strides)
    if (s % a.itemsize != 0) return false;
  return true;
}

}  // namespace detail

// How to run an element-wise call from `in` to `out` (same sizes and item size;
// `out` may be `in`, for in place) under `index`. `allow_rows`: whether the
// element type has 2-D calls.
inline Plan plan_elementwise(const Strided& in, const Strided& out, const IndexMap& index, bool allow_rows) {
  Plan plan;
  plan.n = element_count(in.sizes);
  if (plan.n == 0) {
    plan.route = Route::flat;
    return plan;
  }
  std::vector<detail::Dim> dims;
  for (size_t j = 0; j < in.sizes.size(); ++j) {
    if (in.sizes[j] == 1) continue;
    const detail::Dim d{in.sizes[j], in.strides[j], out.strides[j], index.strides[j]};
    if (!dims.empty()) {
      detail::Dim& last = dims.back();
      // Merge with the previous dimension when it steps over this one whole, in all three spaces.
      if (last.in_stride == d.in_stride * d.size && last.out_stride == d.out_stride * d.size &&
          last.index_stride == d.index_stride * uint64_t(d.size)) {
        last = detail::Dim{last.size * d.size, d.in_stride, d.out_stride, d.index_stride};
        continue;
      }
    }
    dims.push_back(d);
  }
  const int64_t item = in.itemsize;
  if (!detail::aligned(in) || !detail::aligned(out)) return plan;  // copy
  if (dims.empty() ||
      (dims.size() == 1 && dims[0].in_stride == item && dims[0].out_stride == item && dims[0].index_stride == 1)) {
    plan.route = Route::flat;
    return plan;
  }
  if (allow_rows && dims.size() == 2) {
    const detail::Dim& r = dims[0];
    const detail::Dim& c = dims[1];
    // 2-D calls number element (r, c) as base + r*cols + c: the index map must agree.
    if (c.in_stride == item && c.out_stride == item && c.index_stride == 1 && r.index_stride == uint64_t(c.size) &&
        r.in_stride >= c.size * item && r.out_stride >= c.size * item) {
      plan.route = Route::rows;
      plan.rows = uint64_t(r.size);
      plan.cols = uint64_t(c.size);
      plan.ld_in = uint64_t(r.in_stride / item);
      plan.ld_out = uint64_t(r.out_stride / item);
      return plan;
    }
  }
  return plan;  // copy
}

// Byte span [first, last] touched by a strided array, for overlap checks.
struct Span {
  uintptr_t first = 0;
  uintptr_t last = 0;
  bool empty = true;
};

inline Span byte_span(const Strided& a) {
  Span s;
  if (element_count(a.sizes) == 0) return s;
  intptr_t low = 0, high = 0;
  for (size_t j = 0; j < a.sizes.size(); ++j) {
    const intptr_t reach = intptr_t(a.strides[j]) * intptr_t(a.sizes[j] - 1);
    if (reach < 0)
      low += reach;
    else
      high += reach;
  }
  const uintptr_t base = reinterpret_cast<uintptr_t>(a.data);
  s.first = base + uintptr_t(low);
  s.last = base + uintptr_t(high) + uintptr_t(a.itemsize) - 1;
  s.empty = false;
  return s;
}

inline bool spans_overlap(const Span& a, const Span& b) {
  return !a.empty && !b.empty && a.first <= b.last && b.first <= a.last;
}

// The same array: same data, sizes and strides (an in-place call).
inline bool same_array(const Strided& a, const Strided& b) {
  return a.data == b.data && a.sizes == b.sizes && a.strides == b.strides;
}

}  // namespace simdrop_python
