// The index rule of the Python bindings, shard placement, and how a strided
// array is mapped onto simdrop's C calls. Shared by the numpy module and the
// PyTorch extension.
//
// Index rule: the element at logical C-order position i of an array (the order
// of numpy's x.flat) has global index offset + i, whatever the array's strides.
// A shard (global_shape= and shard_start=, docs/distributed.md) is the block
// of a global tensor of shape global_shape whose element (0, ..., 0) sits at
// shard_start: its element (i_0, ..., i_k) has global index
// offset + sum_j (shard_start[j] + i_j) * gstride[j], gstride the C-order
// strides of global_shape. An IndexMap states either rule per dimension: the
// element at multi-index (i_0, ..., i_k) has global index
// base + sum_j i_j * strides[j].
//
// Routes, cheapest first (plan_elementwise). Dimensions of size 1 are
// ignored, and a dimension is merged into the one before it when that one
// steps over it whole in the input, the output and the index space.
//   flat   one dimension left, unit stride in memory and in index space: one
//          1-D call at `base` (C-contiguous arrays, and a shard that is a
//          contiguous range of the global tensor, e.g. a batch split on dim 0).
//   views  the innermost dimension has unit memory strides and index stride 1
//          (it is the call's `cols`), or an index stride other than 1 (then
//          each element is a row of one: cols = 1); the next one, with
//          positive whole-element strides, is the call's `rows`, with its own
//          index row stride `index_ld` (a column shard: the global row length).
//          Any dimensions further out, with positive strides, are looped over
//          in C++: one view call (simdrop_forward_view_*, all four types) per
//          outer index. A shard split on its last dimension, or on its first
//          and last, is one call.
//   copy   anything else (negative or zero strides, a stride that is not a
//          whole number of elements, misaligned data, a non-unit memory stride
//          along an index-contiguous innermost dimension): the caller copies
//          the input into a C-contiguous buffer, plans again (flat or views),
//          and copies the result into the output. That costs one extra read
//          and write of the input and of the output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
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

inline std::vector<uint64_t> c_order_strides(const std::vector<int64_t>& sizes) {
  std::vector<uint64_t> strides(sizes.size(), 0);
  uint64_t stride = 1;
  for (size_t j = sizes.size(); j-- > 0;) {
    strides[j] = stride;
    stride *= uint64_t(sizes[j]);
  }
  return strides;
}

// The index rule of an array that is its own global tensor: position i has index offset + i.
inline IndexMap c_order_index(const std::vector<int64_t>& sizes, uint64_t offset) {
  return IndexMap{offset, c_order_strides(sizes)};
}

// ---------------------------------------------------------------- shard placement

// global_shape= and shard_start= as the caller gave them (std::nullopt: not given).
struct Placement {
  std::optional<std::vector<int64_t>> global_shape;
  std::optional<std::vector<int64_t>> shard_start;
  bool given() const { return global_shape.has_value() || shard_start.has_value(); }
};

namespace detail {
inline std::string list_text(const std::vector<int64_t>& v) {
  std::string s = "(";
  for (size_t j = 0; j < v.size(); ++j) s += (j ? ", " : "") + std::to_string(v[j]);
  return s + (v.size() == 1 ? ",)" : ")");
}
}  // namespace detail

// The checks that need no array: both given or neither, one length, no
// negative value, every start inside its dimension (a start equal to the
// dimension leaves room only for an empty shard), and a global tensor whose
// nonzero sizes multiply to less than 2^64. Returns "" when valid, else the ValueError message.
inline std::string check_placement(const Placement& placement) {
  if (!placement.given()) return "";
  if (!placement.global_shape || !placement.shard_start)
    return "global_shape and shard_start must be given together (both or neither)";
  const std::vector<int64_t>& global = *placement.global_shape;
  const std::vector<int64_t>& start = *placement.shard_start;
  if (global.size() != start.size())
    return "global_shape " + detail::list_text(global) + " and shard_start " + detail::list_text(start) +
           " have different lengths";
  uint64_t count = 1;  // of the nonzero sizes, so that every partial product of index strides fits too
  for (size_t j = 0; j < global.size(); ++j) {
    if (global[j] < 0) return "global_shape " + detail::list_text(global) + " has a negative size";
    if (start[j] < 0) return "shard_start " + detail::list_text(start) + " has a negative entry";
    if (start[j] > global[j])
      return "shard_start " + detail::list_text(start) + " lies outside global_shape " + detail::list_text(global);
    if (global[j] == 0) continue;
    if (count > UINT64_MAX / uint64_t(global[j]))
      return "global_shape " + detail::list_text(global) + " has 2^64 elements or more";
    count *= uint64_t(global[j]);
  }
  return "";
}

// With the array's sizes: the ranks agree and the shard fits inside global_shape.
inline std::string check_placement(const Placement& placement, const std::vector<int64_t>& sizes) {
  std::string message = check_placement(placement);
  if (!message.empty() || !placement.given()) return message;
  const std::vector<int64_t>& global = *placement.global_shape;
  const std::vector<int64_t>& start = *placement.shard_start;
  if (global.size() != sizes.size())
    return "global_shape " + detail::list_text(global) + " has " + std::to_string(global.size()) +
           " dimensions, the array has " + std::to_string(sizes.size()) + " (shape " + detail::list_text(sizes) + ")";
  for (size_t j = 0; j < sizes.size(); ++j)
    if (sizes[j] > global[j] - start[j])
      return "a shard of shape " + detail::list_text(sizes) + " at shard_start " + detail::list_text(start) +
             " does not fit inside global_shape " + detail::list_text(global);
  return "";
}

// The index map of an array under a placement already checked against its
// sizes (or of an array that is its own global tensor), and whether its
// largest global index, offset + sum_j (shard_start[j] + size_j - 1) * gstride[j],
// stays below 2^64 (false: the C library's SIMDROP_ERR_INDEX_OVERFLOW).
inline bool placed_index(const std::vector<int64_t>& sizes, uint64_t offset, const Placement& placement,
                         IndexMap* map) {
  const uint64_t n = element_count(sizes);
  if (!placement.given()) {
    *map = c_order_index(sizes, offset);
    return n == 0 || n - 1 <= UINT64_MAX - offset;
  }
  map->strides = c_order_strides(*placement.global_shape);
  map->base = offset;
  if (n == 0) return true;  // nothing is decided; shard_start may sit at the end of a dimension
  uint64_t first = 0, last = 0;  // both below the global element count, which fits in 64 bits
  for (size_t j = 0; j < sizes.size(); ++j) {
    first += uint64_t((*placement.shard_start)[j]) * map->strides[j];
    last += uint64_t((*placement.shard_start)[j] + sizes[j] - 1) * map->strides[j];
  }
  if (last > UINT64_MAX - offset) return false;
  map->base = offset + first;
  return true;
}

// ---------------------------------------------------------------- plans

// True when the array's bytes are exactly its elements in C order.
inline bool c_contiguous(const Strided& a) {
  int64_t expected = a.itemsize;
  for (size_t j = a.sizes.size(); j-- > 0;) {
    if (a.sizes[j] != 1 && a.strides[j] != expected) return false;
    expected *= a.sizes[j];
  }
  return true;
}

enum class Route { flat, views, copy };

// One dimension of the element-wise problem, seen by the input, the output and the index map.
struct Dim {
  int64_t size;
  int64_t in_stride;   // bytes
  int64_t out_stride;  // bytes
  uint64_t index_stride;
};

struct Plan {
  Route route = Route::copy;
  uint64_t n = 0;     // elements
  uint64_t base = 0;  // global index of element (0, ..., 0)
  // Route::views: rows x cols elements per call, leading dimensions in elements.
  uint64_t rows = 0, cols = 0, index_ld = 0;
  uint64_t ld_in = 0, ld_out = 0;
  std::vector<Dim> outer;  // looped over, outermost first; each index is one view call
  uint64_t calls() const {
    uint64_t c = 1;
    for (const Dim& d : outer) c *= uint64_t(d.size);
    return c;
  }
};

namespace detail {

inline bool aligned(const Strided& a) {
  if (reinterpret_cast<uintptr_t>(a.data) % uint64_t(a.itemsize) != 0) return false;
  for (int64_t s : a.strides)
    if (s % a.itemsize != 0) return false;
  return true;
}

}  // namespace detail

// How to run an element-wise call from `in` to `out` (same sizes and item size;
// `out` may be `in`, for in place) under `index`. `allow_views`: whether the
// operation has view calls (the stored-mask backward has none: it is flat or copy).
inline Plan plan_elementwise(const Strided& in, const Strided& out, const IndexMap& index, bool allow_views) {
  Plan plan;
  plan.n = element_count(in.sizes);
  plan.base = index.base;
  if (plan.n == 0) {
    plan.route = Route::flat;
    return plan;
  }
  std::vector<Dim> dims;
  for (size_t j = 0; j < in.sizes.size(); ++j) {
    if (in.sizes[j] == 1) continue;
    const Dim d{in.sizes[j], in.strides[j], out.strides[j], index.strides[j]};
    if (!dims.empty()) {
      Dim& last = dims.back();
      // Merge with the previous dimension when it steps over this one whole, in all three spaces.
      if (last.in_stride == d.in_stride * d.size && last.out_stride == d.out_stride * d.size &&
          last.index_stride == d.index_stride * uint64_t(d.size)) {
        last = Dim{last.size * d.size, d.in_stride, d.out_stride, d.index_stride};
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
  if (!allow_views) return plan;  // copy
  for (const Dim& d : dims)
    if (d.in_stride <= 0 || d.out_stride <= 0) return plan;  // copy
  const Dim& inner = dims.back();
  const bool unit_inner = inner.in_stride == item && inner.out_stride == item;
  size_t rest = dims.size();
  if (unit_inner && inner.index_stride == 1) {
    plan.cols = uint64_t(inner.size);
    --rest;
  } else if (inner.index_stride == 1) {
    return plan;  // copy: index-contiguous but strided in memory; a contiguous copy makes it one call
  } else {
    plan.cols = 1;  // each element is a row of one; the innermost dimension is the rows
  }
  if (rest == 0) {
    plan.rows = 1;
    plan.ld_in = plan.ld_out = plan.index_ld = plan.cols;
  } else {
    const Dim& r = dims[rest - 1];
    plan.rows = uint64_t(r.size);
    plan.ld_in = uint64_t(r.in_stride / item);
    plan.ld_out = uint64_t(r.out_stride / item);
    plan.index_ld = r.index_stride;
    if (plan.ld_in < plan.cols || plan.ld_out < plan.cols || plan.index_ld < plan.cols) return plan;  // copy
    --rest;
  }
  plan.outer.assign(dims.begin(), dims.begin() + ptrdiff_t(rest));
  plan.route = Route::views;
  return plan;
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
