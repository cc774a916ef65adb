// simdrop/_torch_ops.so: simdrop's PyTorch operators, torch.ops.simdrop.*.
//
// Declared once with schema strings in TORCH_LIBRARY(simdrop, ...), with CPU
// kernels (TORCH_LIBRARY_IMPL(simdrop, CPU, ...)) that map tensors onto the C
// calls exactly as the numpy module does (layout.hpp, calls.hpp), and autograd
// kernels (TORCH_LIBRARY_IMPL(simdrop, Autograd, ...)) written as
// torch::autograd::Function so that TorchScript-ed models train without Python.
//
// Dropout is linear, and its gradient is the same map with the same
// parameters: the backward of `dropout` is `dropout` of the gradient (the
// decisions are regenerated; nothing of the input's size is saved), called
// through the dispatcher so that it is itself differentiable (double backward).
// `dropout_mask` saves the 1-bit mask instead, and its backward is
// `dropout_backward_mask`, again differentiable.
//
// Every dropout operator also takes a shard placement, `int[]? global_shape=None,
// int[]? shard_start=None` (layout.hpp, docs/distributed.md), which autograd
// keeps with the other parameters for the regenerating backward.
//
// Integers are int64 in TorchScript: seed, stream and offset carry the bits of
// the C API's uint64 values (two's complement). keep_prob arrives as a double
// and is rounded to float, as simdrop_params holds it.
#include <ATen/ATen.h>
#include <ATen/MemoryOverlap.h>
#include <ATen/Parallel.h>
#include <ATen/TensorIterator.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/autograd.h>
#include <torch/csrc/autograd/engine.h>
#include <torch/csrc/autograd/graph_task.h>
#include <torch/library.h>

#include <cstdint>
#include <cstring>
#include <numeric>
#include <string>
#include <tuple>
#include <vector>

#ifdef SIMDROP_PYTHON_OPENMP
#include <omp.h>
#endif

#include "calls.hpp"
#include "execute.hpp"
#include "layout.hpp"
#include "simdrop/simdrop.h"

namespace {

using simdrop_python::DType;
using simdrop_python::IndexMap;
using simdrop_python::Op;
using simdrop_python::Placement;
using simdrop_python::Plan;
using simdrop_python::Route;
using simdrop_python::Strided;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// ---------------------------------------------------------------- threads

// simdrop_set_num_threads(0), the default, means "the calling thread's OpenMP
// default" (omp_get_max_threads). at::get_num_threads() first initialises the
// calling thread's OpenMP count from torch's setting (torch does this lazily per
// thread) and returns it. Debian's torch and this extension share one libgomp,
// so the two counts are then already equal; with a torch that brings its own
// OpenMP runtime they would not be, and the count is copied into ours. Per
// thread (an OpenMP ICV), so it is thread-safe. A nonzero
// simdrop.set_num_threads(n) wins, as in the C API.
int use_torch_threads() {
  const int setting = simdrop_get_num_threads();
  if (setting != 0) return setting;
  const int torch_threads = at::get_num_threads();
#ifdef SIMDROP_PYTHON_OPENMP
  if (omp_get_max_threads() != torch_threads) omp_set_num_threads(torch_threads);
  return omp_get_max_threads();
#else
  return torch_threads;
#endif
}

// ---------------------------------------------------------------- arguments

void check_status(int status) { TORCH_CHECK_VALUE(status == SIMDROP_OK, simdrop_status_string(status)); }

// seed and stream arrive as one-element int64 CPU tensors (a module's buffers,
// or a tensor made from a Python int): graph inputs under torch.compile, read
// here when the kernel runs. Their bits are the C API's uint64 values.
int64_t scalar_of(const at::Tensor& t, const char* what) {
  TORCH_CHECK_TYPE(t.defined(), "simdrop: ", what, " must be a tensor");
  TORCH_CHECK_TYPE(t.scalar_type() == at::kLong, "simdrop: ", what, " must be an int64 tensor, not ",
                   t.scalar_type());
  TORCH_CHECK_VALUE(t.numel() == 1, "simdrop: ", what, " must hold one value, it has shape ", t.sizes());
  TORCH_CHECK_VALUE(t.device().is_cpu(), "simdrop: ", what, " is on device ", t.device(),
                    "; only CPU tensors are supported");
  return t.item<int64_t>();
}

simdrop_params make_params(double keep_prob, int64_t seed, int64_t stream, int64_t offset, c10::string_view generator,
                           int64_t threshold_bits) {
  simdrop_params p = simdrop_params_default(simdrop_python::keep_prob_to_float(keep_prob), uint64_t(seed));
  p.stream = uint64_t(stream);
  p.offset = uint64_t(offset);
  if (generator == "philox") {
    p.generator = SIMDROP_PHILOX4X32_10;
  } else if (generator == "xoshiro") {
    p.generator = SIMDROP_XOSHIRO128PP;
  } else {
    TORCH_CHECK_VALUE(false, simdrop_status_string(SIMDROP_ERR_GENERATOR), ": '", std::string(generator),
                      "' (use \"philox\" or \"xoshiro\")");
  }
  TORCH_CHECK_VALUE(threshold_bits >= 0 && threshold_bits <= int64_t(UINT32_MAX),
                    simdrop_status_string(SIMDROP_ERR_THRESHOLD_BITS));
  p.threshold_bits = uint32_t(threshold_bits);
  check_status(simdrop_mask(nullptr, 0, &p));  // keep_prob, threshold_bits, generator
  return p;
}

DType dtype_of(const at::Tensor& t, const char* what) {
  switch (t.scalar_type()) {
    case at::kFloat: return DType::f32;
    case at::kDouble: return DType::f64;
    case at::kHalf: return DType::f16;
    case at::kBFloat16: return DType::bf16;
    default:
      TORCH_CHECK_TYPE(false, "simdrop: ", what, " has unsupported dtype ", t.scalar_type(),
                       " (float32, float64, bfloat16 or float16)");
  }
  return DType::f32;  // not reached
}

void check_cpu(const at::Tensor& t, const char* what) {
  TORCH_CHECK_VALUE(t.device().is_cpu(), "simdrop: ", what, " is on device ", t.device(),
                    "; only CPU tensors are supported");
}

void check_no_internal_overlap(const at::Tensor& t) {
  TORCH_CHECK_VALUE(at::has_internal_overlap(t) != at::MemOverlap::Yes,
                    "simdrop: in-place dropout of a tensor whose elements share memory (e.g. expanded)");
}

Strided strided(const at::Tensor& t) {
  Strided s;
  s.data = t.data_ptr();
  s.itemsize = int64_t(t.element_size());
  for (int64_t j = 0; j < t.dim(); ++j) {
    s.sizes.push_back(t.size(j));
    s.strides.push_back(t.stride(j) * s.itemsize);
  }
  return s;
}

at::Tensor new_contiguous(const at::Tensor& like) {
  return at::empty(like.sizes(), like.options().memory_format(at::MemoryFormat::Contiguous));
}

// The result of an element-wise op on `like`, laid out as PyTorch lays out
// such results (TensorIterator: dense, in the input's stride order). A
// channels_last, permuted or sliced input gives an output of its memory order,
// as torch.nn.functional.dropout does; the decisions stay those of the
// logical (C-order) index. The fake kernels (simdrop/torch.py) follow the same rule.
at::Tensor new_like(const at::Tensor& like) {
  if (like.is_non_overlapping_and_dense()) return at::empty_like(like);  // its own strides
  at::TensorIterator iter =
      at::TensorIteratorConfig()
          .add_owned_output(at::Tensor())
          .add_owned_const_input(like)
          .check_all_same_dtype(false)
          .build();
  return iter.output();
}

// ---------------------------------------------------------------- shard placement

// The operators' `int[]? global_shape=None, int[]? shard_start=None`.
Placement placement_of(at::OptionalIntArrayRef global_shape, at::OptionalIntArrayRef shard_start) {
  Placement placement;
  if (global_shape.has_value()) placement.global_shape = global_shape->vec();
  if (shard_start.has_value()) placement.shard_start = shard_start->vec();
  return placement;
}

// The placement of `t` checked (layout.hpp), and its index map.
IndexMap placed_index_of(const at::Tensor& t, uint64_t offset, const Placement& placement) {
  const std::vector<int64_t> sizes = t.sizes().vec();
  const std::string message = simdrop_python::check_placement(placement, sizes);
  TORCH_CHECK_VALUE(message.empty(), "simdrop: ", message);
  IndexMap index;
  TORCH_CHECK_VALUE(simdrop_python::placed_index(sizes, offset, placement, &index),
                    simdrop_status_string(SIMDROP_ERR_INDEX_OVERFLOW));
  return index;
}

// ---------------------------------------------------------------- element-wise kernels

// out = dropout(x) (or the masked backward of x), `out` allocated with x's
// sizes; `out` may be x (in place). The index rule and the routes: layout.hpp.
// The stored-mask backward applies its bits in x's own C order: its placement
// is checked by the caller and plays no part here.
void run_elementwise(Op op, const at::Tensor& x, const at::Tensor& out, const simdrop_params& p,
                     const Placement& placement, uint8_t* mask_out, const uint8_t* mask_in) {
  const DType type = dtype_of(x, "input");
  const Strided xs = strided(x);
  const Strided os = strided(out);
  const bool views = op != Op::backward_mask;
  const IndexMap index = views ? placed_index_of(x, p.offset, placement)
                               : simdrop_python::c_order_index(xs.sizes, p.offset);
  const Plan plan = simdrop_python::plan_elementwise(xs, os, index, views);
  int status;
  if (plan.route != Route::copy) {
    status = simdrop_python::run_plan(op, type, plan, xs.data, out.data_ptr(), p, mask_out, mask_in);
  } else {
    // A contiguous copy of the input, planned again (flat or views), and the result copied out.
    const at::Tensor source = x.contiguous();
    const bool source_is_copy = !source.is_same(x);
    const Strided ss = strided(source);
    at::Tensor target;
    Plan contiguous_plan;
    if (out.is_contiguous()) {
      contiguous_plan = simdrop_python::plan_elementwise(ss, os, index, views);
      if (contiguous_plan.route != Route::copy) target = out;
    }
    if (!target.defined()) {
      target = source_is_copy ? source : new_contiguous(x);  // in place on the private copy, or a new tensor
      contiguous_plan = simdrop_python::plan_elementwise(ss, strided(target), index, views);
    }
    TORCH_CHECK(contiguous_plan.route != Route::copy, "simdrop: no plan for a contiguous tensor");
    status = simdrop_python::run_plan(op, type, contiguous_plan, source.data_ptr(), target.data_ptr(), p, mask_out,
                                      mask_in);
    if (status == SIMDROP_OK && !target.is_same(out)) out.copy_(target);
  }
  check_status(status);
}

// The schemas' `int[]? global_shape=None, int[]? shard_start=None`.
using Shape = at::OptionalIntArrayRef;

at::Tensor dropout_cpu(const at::Tensor& input, double keep_prob, const at::Tensor& seed, const at::Tensor& stream, int64_t offset,
                       c10::string_view generator, int64_t threshold_bits, Shape global_shape, Shape shard_start) {
  const simdrop_params p =
      make_params(keep_prob, scalar_of(seed, "seed"), scalar_of(stream, "stream"), offset, generator, threshold_bits);
  check_cpu(input, "input");
  dtype_of(input, "input");
  use_torch_threads();
  at::Tensor out = new_like(input);
  run_elementwise(Op::forward, input, out, p, placement_of(global_shape, shard_start), nullptr, nullptr);
  return out;
}

void dropout_inplace_cpu(const at::Tensor& self, double keep_prob, const at::Tensor& seed, const at::Tensor& stream, int64_t offset,
                               c10::string_view generator, int64_t threshold_bits, Shape global_shape,
                               Shape shard_start) {
  const simdrop_params p =
      make_params(keep_prob, scalar_of(seed, "seed"), scalar_of(stream, "stream"), offset, generator, threshold_bits);
  check_cpu(self, "input");
  dtype_of(self, "input");
  check_no_internal_overlap(self);
  use_torch_threads();
  run_elementwise(Op::forward, self, self, p, placement_of(global_shape, shard_start), nullptr, nullptr);
}

at::Tensor new_mask(const at::Tensor& like) {
  return at::empty({(like.numel() + 7) / 8}, like.options().dtype(at::kByte));
}

std::tuple<at::Tensor, at::Tensor> dropout_mask_cpu(const at::Tensor& input, double keep_prob, const at::Tensor& seed,
                                                    const at::Tensor& stream, int64_t offset, c10::string_view generator,
                                                    int64_t threshold_bits, Shape global_shape, Shape shard_start) {
  const simdrop_params p =
      make_params(keep_prob, scalar_of(seed, "seed"), scalar_of(stream, "stream"), offset, generator, threshold_bits);
  check_cpu(input, "input");
  dtype_of(input, "input");
  use_torch_threads();
  at::Tensor out = new_like(input);
  at::Tensor mask = new_mask(input);
  run_elementwise(Op::forward, input, out, p, placement_of(global_shape, shard_start), mask.data_ptr<uint8_t>(),
                  nullptr);
  return {out, mask};
}

at::Tensor dropout_mask_inplace_cpu(const at::Tensor& self, double keep_prob, const at::Tensor& seed,
                                                            const at::Tensor& stream, int64_t offset,
                                                            c10::string_view generator, int64_t threshold_bits,
                                                            Shape global_shape, Shape shard_start) {
  const simdrop_params p =
      make_params(keep_prob, scalar_of(seed, "seed"), scalar_of(stream, "stream"), offset, generator, threshold_bits);
  check_cpu(self, "input");
  dtype_of(self, "input");
  check_no_internal_overlap(self);
  use_torch_threads();
  at::Tensor mask = new_mask(self);
  run_elementwise(Op::forward, self, self, p, placement_of(global_shape, shard_start), mask.data_ptr<uint8_t>(),
                  nullptr);
  return mask;
}

at::Tensor dropout_backward_mask_cpu(const at::Tensor& grad, const at::Tensor& mask, double keep_prob,
                                     int64_t threshold_bits) {
  const simdrop_params p = make_params(keep_prob, 0, 0, 0, "philox", threshold_bits);
  check_cpu(grad, "grad");
  check_cpu(mask, "mask");
  dtype_of(grad, "grad");
  TORCH_CHECK_TYPE(mask.scalar_type() == at::kByte, "simdrop: mask must have dtype uint8, not ", mask.scalar_type());
  TORCH_CHECK_VALUE(mask.numel() == (grad.numel() + 7) / 8, "simdrop: mask has ", mask.numel(),
                    " bytes, ceil(n/8) = ", (grad.numel() + 7) / 8, " expected");
  use_torch_threads();
  const at::Tensor bits = mask.contiguous();
  at::Tensor out = new_like(grad);
  run_elementwise(Op::backward_mask, grad, out, p, Placement{}, nullptr, bits.data_ptr<uint8_t>());
  return out;
}

// ---------------------------------------------------------------- channel dropout

// (N, C, *) dense in the channels-last order: C innermost, then the spatial
// dimensions in order, then N. Dimensions of size 1 may have any stride.
bool channels_last_dense(const at::Tensor& t) {
  if (t.dim() < 3) return false;
  const int64_t d = t.dim();
  std::vector<int64_t> order{1};
  for (int64_t j = d - 1; j >= 2; --j) order.push_back(j);
  order.push_back(0);
  int64_t expected = 1;
  for (int64_t j : order) {
    if (t.size(j) != 1 && t.stride(j) != expected) return false;
    expected *= t.size(j);
  }
  return true;
}

// Where the channel decisions of an (N, C, *) input lie: channel (n, c) has
// global index base + n*index_ld + c. Unplaced: base = offset, index_ld = C.
// A shard of a global (N_g, C_g, *) tensor at shard_start (n0, c0, *) places
// its (n, c) block: base = offset + n0*C_g + c0, index_ld = C_g; a split of
// the spatial dimensions leaves every channel its whole-tensor decision.
struct ChannelIndex {
  uint64_t base = 0;
  uint64_t index_ld = 0;
};

ChannelIndex channel_index(const at::Tensor& x, uint64_t offset, const Placement& placement) {
  TORCH_CHECK_VALUE(x.dim() >= 2, "simdrop: channel dropout needs an input of shape (N, C, *), got ", x.sizes());
  const std::vector<int64_t> sizes = x.sizes().vec();
  const std::string message = simdrop_python::check_placement(placement, sizes);
  TORCH_CHECK_VALUE(message.empty(), "simdrop: ", message);
  const std::vector<int64_t> channel_sizes{sizes[0], sizes[1]};
  Placement channels;
  if (placement.given()) {
    channels.global_shape = std::vector<int64_t>{(*placement.global_shape)[0], (*placement.global_shape)[1]};
    channels.shard_start = std::vector<int64_t>{(*placement.shard_start)[0], (*placement.shard_start)[1]};
  }
  IndexMap index;
  TORCH_CHECK_VALUE(simdrop_python::placed_index(channel_sizes, offset, channels, &index),
                    simdrop_status_string(SIMDROP_ERR_INDEX_OVERFLOW));
  return ChannelIndex{index.base, index.strides[0]};
}

// y = channel dropout of x (dense, contiguous or channels-last); y may be x.
void run_channels(const at::Tensor& x, const at::Tensor& y, const simdrop_params& p, const Placement& placement) {
  const DType type = dtype_of(x, "input");
  const ChannelIndex where = channel_index(x, p.offset, placement);
  const int64_t batch = x.size(0), channels = x.size(1);
  const int64_t decisions = batch * channels;
  const int64_t spatial = decisions == 0 ? 0 : x.numel() / decisions;
  const bool channels_last = !x.is_contiguous();  // the caller passes contiguous or channels-last tensors
  simdrop_params call = p;
  call.offset = where.base;
  if (decisions == 0) return;
  if (type == DType::f32) {
    if (where.index_ld == uint64_t(channels)) {  // the decisions of all samples are one index range
      check_status(simdrop_forward_channels_f32(x.data_ptr<float>(), y.data_ptr<float>(), size_t(batch),
                                                size_t(channels), size_t(spatial), channels_last ? 1 : 0, &call,
                                                nullptr));
      return;
    }
    // A split of the channels: one call per sample, whose block is contiguous in either layout.
    const int64_t per_sample = channels * spatial;
    for (int64_t n = 0; n < batch; ++n) {
      call.offset = where.base + uint64_t(n) * where.index_ld;
      check_status(simdrop_forward_channels_f32(x.data_ptr<float>() + n * per_sample,
                                                y.data_ptr<float>() + n * per_sample, 1, size_t(channels),
                                                size_t(spatial), channels_last ? 1 : 0, &call, nullptr));
    }
    return;
  }
  // Other types: the decisions of the (n, c) block from one mask call, in
  // bit n*C + c, applied with the contract's values (calls.hpp).
  const size_t row_bytes = size_t((channels + 7) / 8);
  std::vector<uint8_t> rows(size_t(batch) * row_bytes);
  check_status(simdrop_mask_view(rows.data(), row_bytes, size_t(batch), size_t(channels), where.index_ld, &call));
  std::vector<uint8_t> bits(size_t((decisions + 7) / 8), 0);
  simdrop_python::append_bits(bits.data(), bits.size(), 0, rows.data(), row_bytes, uint64_t(batch),
                              uint64_t(channels));
  const simdrop_python::Scale s = simdrop_python::contract_scale(p.keep_prob, p.threshold_bits);
  const auto apply = [&](auto tag) {
    simdrop_python::apply_channels_typed<decltype(tag)::value>(x.data_ptr(), y.data_ptr(), size_t(batch),
                                                               size_t(channels), size_t(spatial), channels_last,
                                                               bits.data(), s);
  };
  switch (type) {
    case DType::f64: apply(std::integral_constant<DType, DType::f64>{}); break;
    case DType::f16: apply(std::integral_constant<DType, DType::f16>{}); break;
    case DType::bf16: apply(std::integral_constant<DType, DType::bf16>{}); break;
    case DType::f32: break;
  }
}

at::Tensor dropout2d_cpu(const at::Tensor& input, double keep_prob, const at::Tensor& seed, const at::Tensor& stream, int64_t offset,
                         c10::string_view generator, int64_t threshold_bits, Shape global_shape, Shape shard_start) {
  const simdrop_params p =
      make_params(keep_prob, scalar_of(seed, "seed"), scalar_of(stream, "stream"), offset, generator, threshold_bits);
  check_cpu(input, "input");
  dtype_of(input, "input");
  use_torch_threads();
  const Placement placement = placement_of(global_shape, shard_start);
  channel_index(input, p.offset, placement);  // every check before anything is allocated or copied
  at::Tensor out = new_like(input);             // the input's memory order, as torch's dropout2d
  if (input.is_contiguous() || channels_last_dense(input)) {
    run_channels(input, out, p, placement);  // out has input's strides
  } else if (out.is_contiguous() || channels_last_dense(out)) {
    out.copy_(input);  // a sliced or expanded input: its values in out's layout, then in place
    run_channels(out, out, p, placement);
  } else {
    const at::Tensor copy = input.contiguous();
    run_channels(copy, copy, p, placement);
    out.copy_(copy);
  }
  return out;
}

void dropout2d_inplace_cpu(const at::Tensor& self, double keep_prob, const at::Tensor& seed, const at::Tensor& stream,
                                 int64_t offset, c10::string_view generator, int64_t threshold_bits,
                                 Shape global_shape, Shape shard_start) {
  const simdrop_params p =
      make_params(keep_prob, scalar_of(seed, "seed"), scalar_of(stream, "stream"), offset, generator, threshold_bits);
  check_cpu(self, "input");
  dtype_of(self, "input");
  check_no_internal_overlap(self);
  use_torch_threads();
  const Placement placement = placement_of(global_shape, shard_start);
  channel_index(self, p.offset, placement);
  if (self.is_contiguous() || channels_last_dense(self)) {
    run_channels(self, self, p, placement);
  } else {
    const at::Tensor copy = self.contiguous();
    run_channels(copy, copy, p, placement);
    self.copy_(copy);
  }
}

// ---------------------------------------------------------------- bias + dropout + residual

// The fused float32 call over contiguous x, bias, residual, out of shape
// (..., cols), under `index` (x's index map). The C call numbers its rows
// offset + r*cols + c, so rows whose indices follow each other share a call:
// all of them for an unplaced tensor or a batch shard; one row per call when
// the last dimension is split (a column shard).
int bias_dropout_add_rows(const at::Tensor& x, const at::Tensor& bias, const at::Tensor& residual,
                          const at::Tensor& out, const IndexMap& index, const simdrop_params& p) {
  const int64_t cols = x.size(-1);
  // The leading dimensions (rows), size 1 dropped, merged where their indices nest.
  struct Lead {
    int64_t size;
    uint64_t index_stride;
  };
  std::vector<Lead> lead;
  for (int64_t j = 0; j + 1 < x.dim(); ++j) {
    if (x.size(j) == 1) continue;
    const Lead d{x.size(j), index.strides[size_t(j)]};
    if (!lead.empty() && lead.back().index_stride == d.index_stride * uint64_t(d.size)) {
      lead.back() = Lead{lead.back().size * d.size, d.index_stride};
      continue;
    }
    lead.push_back(d);
  }
  int64_t rows_per_call = 1;
  if (!lead.empty() && lead.back().index_stride == uint64_t(cols)) {
    rows_per_call = lead.back().size;
    lead.pop_back();
  }
  uint64_t calls = 1;
  for (const Lead& d : lead) calls *= uint64_t(d.size);
  std::vector<int64_t> counter(lead.size(), 0);
  uint64_t index_at = 0;
  simdrop_params call = p;
  const float* xs = x.data_ptr<float>();
  const float* rs = residual.data_ptr<float>();
  float* ys = out.data_ptr<float>();
  const int64_t per_call = rows_per_call * cols;
  for (uint64_t k = 0; k < calls; ++k) {
    call.offset = index.base + index_at;
    const int64_t at = int64_t(k) * per_call;
    if (int status = simdrop_bias_dropout_add_f32(xs + at, bias.data_ptr<float>(), rs + at, ys + at,
                                                  size_t(rows_per_call), size_t(cols), &call, nullptr))
      return status;
    for (size_t j = lead.size(); j-- > 0;) {
      index_at += lead[j].index_stride;
      if (++counter[j] < lead[j].size) break;
      counter[j] = 0;
      index_at -= lead[j].index_stride * uint64_t(lead[j].size);
    }
  }
  return SIMDROP_OK;
}

at::Tensor bias_dropout_add_cpu(const at::Tensor& x, const at::Tensor& bias, const at::Tensor& residual,
                                double keep_prob, const at::Tensor& seed, const at::Tensor& stream, int64_t offset,
                                c10::string_view generator, int64_t threshold_bits, Shape global_shape,
                                Shape shard_start) {
  const simdrop_params p =
      make_params(keep_prob, scalar_of(seed, "seed"), scalar_of(stream, "stream"), offset, generator, threshold_bits);
  check_cpu(x, "x");
  check_cpu(bias, "bias");
  check_cpu(residual, "residual");
  const DType type = dtype_of(x, "x");
  TORCH_CHECK_TYPE(bias.scalar_type() == x.scalar_type() && residual.scalar_type() == x.scalar_type(),
                   "simdrop: bias_dropout_add needs x, bias and residual of one dtype, got ", x.scalar_type(), ", ",
                   bias.scalar_type(), ", ", residual.scalar_type());
  TORCH_CHECK_VALUE(x.dim() >= 1, "simdrop: bias_dropout_add needs x of shape (..., cols)");
  const int64_t cols = x.size(-1);
  TORCH_CHECK_VALUE(bias.dim() == 1 && bias.size(0) == cols, "simdrop: bias must have shape (", cols,
                    ",), got ", bias.sizes());
  TORCH_CHECK_VALUE(residual.sizes() == x.sizes(), "simdrop: residual must have x's shape ", x.sizes(), ", got ",
                    residual.sizes());
  const Placement placement = placement_of(global_shape, shard_start);
  const IndexMap index = placed_index_of(x, p.offset, placement);
  use_torch_threads();
  if (type != DType::f32) {
    // No fused call for this type: residual + dropout(x + bias), each step rounded in the type.
    const at::Tensor h = x + bias;
    at::Tensor out = new_contiguous(h);
    run_elementwise(Op::forward, h, out, p, placement, nullptr, nullptr);
    out.add_(residual);
    return out;
  }
  const at::Tensor xc = x.contiguous(), bc = bias.contiguous(), rc = residual.contiguous();
  at::Tensor out = new_contiguous(x);
  if (x.numel() != 0) check_status(bias_dropout_add_rows(xc, bc, rc, out, index, p));
  return out;
}

// ---------------------------------------------------------------- calls through the dispatcher

using DropoutSignature = at::Tensor(const at::Tensor&, double, const at::Tensor&, const at::Tensor&, int64_t,
                                    c10::string_view, int64_t, Shape, Shape);
// The in-place operators return nothing (dropout_, dropout2d_) or only the mask
// (dropout_mask_): a custom operator's output may not alias its input, so that
// torch.compile can functionalize them.
using InplaceSignature = void(const at::Tensor&, double, const at::Tensor&, const at::Tensor&, int64_t,
                              c10::string_view, int64_t, Shape, Shape);
using MaskSignature = std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, double, const at::Tensor&,
                                                          const at::Tensor&, int64_t, c10::string_view, int64_t,
                                                          Shape, Shape);
using BackwardMaskSignature = at::Tensor(const at::Tensor&, const at::Tensor&, double, int64_t);
using BiasSignature = at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&, double, const at::Tensor&,
                                 const at::Tensor&, int64_t, c10::string_view, int64_t, Shape, Shape);

template <class Signature>
c10::TypedOperatorHandle<Signature> find_op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<Signature>();
}

// The handles, looked up once (the ops are registered when the library loads).
const c10::TypedOperatorHandle<DropoutSignature>& dropout_op(bool channels) {
  static const auto plain = find_op<DropoutSignature>("simdrop::dropout");
  static const auto channel = find_op<DropoutSignature>("simdrop::dropout2d");
  return channels ? channel : plain;
}
const c10::TypedOperatorHandle<InplaceSignature>& dropout_inplace_op(bool channels) {
  static const auto plain = find_op<InplaceSignature>("simdrop::dropout_");
  static const auto channel = find_op<InplaceSignature>("simdrop::dropout2d_");
  return channels ? channel : plain;
}
const c10::TypedOperatorHandle<MaskSignature>& dropout_mask_op() {
  static const auto handle = find_op<MaskSignature>("simdrop::dropout_mask");
  return handle;
}
const c10::TypedOperatorHandle<DropoutSignature>& dropout_mask_inplace_op() {
  static const auto handle = find_op<DropoutSignature>("simdrop::dropout_mask_");
  return handle;
}
const c10::TypedOperatorHandle<BackwardMaskSignature>& backward_mask_op() {
  static const auto handle = find_op<BackwardMaskSignature>("simdrop::dropout_backward_mask");
  return handle;
}
const c10::TypedOperatorHandle<BiasSignature>& bias_dropout_add_op() {
  static const auto handle = find_op<BiasSignature>("simdrop::bias_dropout_add");
  return handle;
}

// ---------------------------------------------------------------- autograd

// A placement as it is kept in an autograd context, and handed back to an operator.
using SavedShape = c10::optional<std::vector<int64_t>>;

SavedShape saved_shape(Shape shape) {
  if (!shape.has_value()) return c10::nullopt;
  return shape->vec();
}
c10::IValue to_ivalue(const SavedShape& shape) { return shape ? c10::IValue(*shape) : c10::IValue(); }
SavedShape from_ivalue(const c10::IValue& value) {
  if (value.isNone()) return c10::nullopt;
  return value.toIntVector();
}
Shape as_shape(const SavedShape& shape) {
  if (!shape) return c10::nullopt;
  return at::IntArrayRef(*shape);
}

// The parameters of one dropout call, kept in the autograd context: the
// options and the placement as IValues, seed and stream as saved variables
// (save_for_backward: autograd checks they are not modified before backward,
// and under torch.compile they are saved activations of the graph, never
// recomputed from a step buffer that has moved on since).
struct Saved {
  double keep_prob;
  at::Tensor seed, stream;
  int64_t offset;
  std::string generator;
  int64_t threshold_bits;
  SavedShape global_shape, shard_start;

  void store(AutogradContext* ctx) const {
    ctx->saved_data["keep_prob"] = keep_prob;
    ctx->save_for_backward({seed, stream});
    ctx->saved_data["offset"] = offset;
    ctx->saved_data["generator"] = generator;
    ctx->saved_data["threshold_bits"] = threshold_bits;
    ctx->saved_data["global_shape"] = to_ivalue(global_shape);
    ctx->saved_data["shard_start"] = to_ivalue(shard_start);
  }
  static Saved load(AutogradContext* ctx) {
    const variable_list saved = ctx->get_saved_variables();
    return Saved{ctx->saved_data["keep_prob"].toDouble(),       saved[0],
                 saved[1],                                      ctx->saved_data["offset"].toInt(),
                 ctx->saved_data["generator"].toStringRef(),    ctx->saved_data["threshold_bits"].toInt(),
                 from_ivalue(ctx->saved_data["global_shape"]), from_ivalue(ctx->saved_data["shard_start"])};
  }
};

enum class Kind : int64_t { elementwise = 0, channels = 1 };

// dropout, dropout_, dropout2d, dropout2d_: backward regenerates (the same op on the gradient).
struct RegeneratingDropout : public torch::autograd::Function<RegeneratingDropout> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input, double keep_prob, const at::Tensor& seed,
                            const at::Tensor& stream, int64_t offset, c10::string_view generator, int64_t threshold_bits,
                            Shape global_shape, Shape shard_start, int64_t kind, bool inplace) {
    Saved{keep_prob, seed, stream, offset, std::string(generator), threshold_bits, saved_shape(global_shape),
          saved_shape(shard_start)}
        .store(ctx);
    ctx->saved_data["kind"] = kind;
    at::AutoDispatchBelowADInplaceOrView guard;
    const bool channels = Kind(kind) == Kind::channels;
    if (!inplace)
      return dropout_op(channels).call(input, keep_prob, seed, stream, offset, generator, threshold_bits, global_shape,
                                       shard_start);
    dropout_inplace_op(channels).call(input, keep_prob, seed, stream, offset, generator, threshold_bits, global_shape,
                                      shard_start);
    ctx->mark_dirty({input});
    return input;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const Saved s = Saved::load(ctx);
    const bool channels = Kind(ctx->saved_data["kind"].toInt()) == Kind::channels;
    at::Tensor grad_input;
    if (grads[0].defined())
      grad_input = dropout_op(channels)
                       .call(grads[0], s.keep_prob, s.seed, s.stream, s.offset, s.generator, s.threshold_bits,
                             as_shape(s.global_shape), as_shape(s.shard_start));
    return {grad_input,   at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// The gradient through the keep bits a Function saved (its only saved tensor) with
// its keep_prob and threshold_bits; an undefined gradient stays undefined.
at::Tensor stored_mask_gradient(AutogradContext* ctx, const at::Tensor& grad) {
  if (!grad.defined()) return at::Tensor();
  return backward_mask_op().call(grad, ctx->get_saved_variables()[0], ctx->saved_data["keep_prob"].toDouble(),
                                 ctx->saved_data["threshold_bits"].toInt());
}

// dropout_backward_mask: linear in grad; its own backward is itself with the same mask.
struct MaskedBackward : public torch::autograd::Function<MaskedBackward> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& grad, const at::Tensor& mask, double keep_prob,
                            int64_t threshold_bits) {
    ctx->saved_data["keep_prob"] = keep_prob;
    ctx->saved_data["threshold_bits"] = threshold_bits;
    ctx->save_for_backward({mask});
    at::AutoDispatchBelowADInplaceOrView guard;
    return backward_mask_op().call(grad, mask, keep_prob, threshold_bits);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return {stored_mask_gradient(ctx, grads[0]), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// dropout_mask, dropout_mask_: saves the 1-bit mask (ceil(n/8) bytes) and nothing else.
struct StoredMaskDropout : public torch::autograd::Function<StoredMaskDropout> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& input, double keep_prob, const at::Tensor& seed,
                               const at::Tensor& stream, int64_t offset, c10::string_view generator, int64_t threshold_bits,
                               Shape global_shape, Shape shard_start, bool inplace) {
    ctx->saved_data["keep_prob"] = keep_prob;
    ctx->saved_data["threshold_bits"] = threshold_bits;
    at::AutoDispatchBelowADInplaceOrView guard;
    at::Tensor output = input, mask;
    if (inplace) {
      mask = dropout_mask_inplace_op().call(input, keep_prob, seed, stream, offset, generator, threshold_bits,
                                            global_shape, shard_start);
      ctx->mark_dirty({input});
    } else {
      std::tie(output, mask) = dropout_mask_op().call(input, keep_prob, seed, stream, offset, generator,
                                                      threshold_bits, global_shape, shard_start);
    }
    ctx->mark_non_differentiable({mask});
    ctx->save_for_backward({mask});
    return {output, mask};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return {stored_mask_gradient(ctx, grads[0]),
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// bias_dropout_add: d x = d(x + bias) = dropout(dy) (regenerated), d bias = its column sums, d residual = dy.
struct BiasDropoutAdd : public torch::autograd::Function<BiasDropoutAdd> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& bias,
                            const at::Tensor& residual, double keep_prob, const at::Tensor& seed, const at::Tensor& stream,
                            int64_t offset, c10::string_view generator, int64_t threshold_bits, Shape global_shape,
                            Shape shard_start) {
    Saved{keep_prob, seed, stream, offset, std::string(generator), threshold_bits, saved_shape(global_shape),
          saved_shape(shard_start)}
        .store(ctx);
    at::AutoDispatchBelowADInplaceOrView guard;
    return bias_dropout_add_op().call(x, bias, residual, keep_prob, seed, stream, offset, generator, threshold_bits,
                                      global_shape, shard_start);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const Saved s = Saved::load(ctx);
    const at::Tensor& grad = grads[0];
    at::Tensor grad_x, grad_bias;
    if (grad.defined()) {
      grad_x = dropout_op(false)
                   .call(grad, s.keep_prob, s.seed, s.stream, s.offset, s.generator, s.threshold_bits,
                         as_shape(s.global_shape), as_shape(s.shard_start));
      // The column sums: every leading dimension reduced (no sizes read, so traced shapes stay symbolic).
      std::vector<int64_t> lead(size_t(grad_x.dim() - 1));
      std::iota(lead.begin(), lead.end(), int64_t(0));
      grad_bias = lead.empty() ? grad_x.clone() : grad_x.sum(lead);
    }
    return {grad_x,       grad_bias,    grad,         at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// A call with nothing to differentiate skips the autograd Function: cheaper, and
// for an in-place call the output is then the input itself (not a view of it);
// in-place calls then bump the version counter, as PyTorch's ADInplaceOrView
// kernels do.
bool records_graph(const at::Tensor& t) { return at::GradMode::is_enabled() && t.requires_grad(); }

// The Autograd kernels of dropout and dropout2d: without a graph to record,
// the CPU kernel below autograd; else the regenerating Function.
template <bool Channels>
at::Tensor regenerating_autograd(const at::Tensor& input, double keep_prob, const at::Tensor& seed,
                                 const at::Tensor& stream, int64_t offset, c10::string_view generator,
                                 int64_t threshold_bits, Shape global_shape, Shape shard_start) {
  if (!records_graph(input)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return dropout_op(Channels).call(input, keep_prob, seed, stream, offset, generator, threshold_bits, global_shape,
                                     shard_start);
  }
  return RegeneratingDropout::apply(input, keep_prob, seed, stream, offset, generator, threshold_bits, global_shape,
                                    shard_start, int64_t(Channels ? Kind::channels : Kind::elementwise), false);
}
// autograd's rules for writing into a tensor that requires grad, checked before
// anything is written (PyTorch's own in-place ops check them first too).
void check_inplace_allowed(const at::Tensor& self) {
  if (!records_graph(self)) return;
  TORCH_CHECK(!self.is_leaf(), "a leaf Variable that requires grad is being used in an in-place operation.");
  if (self.is_view()) {
    const at::TensorBase& base = self._base();
    TORCH_CHECK(!(base.is_leaf() && base.requires_grad()),
                "a view of a leaf Variable that requires grad is being used in an in-place operation.");
  }
}

// dropout_ and dropout2d_: the input is written (its version bumped); with a graph
// to record, the regenerating Function rebases the input's history onto itself.
template <bool Channels>
void regenerating_inplace_autograd(const at::Tensor& self, double keep_prob, const at::Tensor& seed,
                                   const at::Tensor& stream, int64_t offset, c10::string_view generator,
                                   int64_t threshold_bits, Shape global_shape, Shape shard_start) {
  check_inplace_allowed(self);
  if (!records_graph(self)) {
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      dropout_inplace_op(Channels).call(self, keep_prob, seed, stream, offset, generator, threshold_bits,
                                        global_shape, shard_start);
    }
    torch::autograd::impl::bump_version(self);
    return;
  }
  RegeneratingDropout::apply(self, keep_prob, seed, stream, offset, generator, threshold_bits, global_shape,
                             shard_start, int64_t(Channels ? Kind::channels : Kind::elementwise), true);
}
std::tuple<at::Tensor, at::Tensor> dropout_mask_autograd(const at::Tensor& input, double keep_prob,
                                                         const at::Tensor& seed, const at::Tensor& stream,
                                                         int64_t offset, c10::string_view generator,
                                                         int64_t threshold_bits, Shape global_shape,
                                                         Shape shard_start) {
  if (!records_graph(input)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return dropout_mask_op().call(input, keep_prob, seed, stream, offset, generator, threshold_bits, global_shape,
                                  shard_start);
  }
  auto outputs = StoredMaskDropout::apply(input, keep_prob, seed, stream, offset, generator, threshold_bits,
                                          global_shape, shard_start, false);
  return {outputs[0], outputs[1]};
}
at::Tensor dropout_mask_inplace_autograd(const at::Tensor& self, double keep_prob, const at::Tensor& seed,
                                         const at::Tensor& stream, int64_t offset, c10::string_view generator,
                                         int64_t threshold_bits, Shape global_shape, Shape shard_start) {
  check_inplace_allowed(self);
  if (!records_graph(self)) {
    at::Tensor mask;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      mask = dropout_mask_inplace_op().call(self, keep_prob, seed, stream, offset, generator, threshold_bits,
                                            global_shape, shard_start);
    }
    torch::autograd::impl::bump_version(self);
    return mask;
  }
  auto outputs = StoredMaskDropout::apply(self, keep_prob, seed, stream, offset, generator, threshold_bits,
                                          global_shape, shard_start, true);
  return outputs[1];
}
at::Tensor dropout_backward_mask_autograd(const at::Tensor& grad, const at::Tensor& mask, double keep_prob,
                                          int64_t threshold_bits) {
  if (!records_graph(grad)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return backward_mask_op().call(grad, mask, keep_prob, threshold_bits);
  }
  return MaskedBackward::apply(grad, mask, keep_prob, threshold_bits);
}
at::Tensor bias_dropout_add_autograd(const at::Tensor& x, const at::Tensor& bias, const at::Tensor& residual,
                                     double keep_prob, const at::Tensor& seed, const at::Tensor& stream, int64_t offset,
                                     c10::string_view generator, int64_t threshold_bits, Shape global_shape,
                                     Shape shard_start) {
  if (!records_graph(x) && !records_graph(bias) && !records_graph(residual)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return bias_dropout_add_op().call(x, bias, residual, keep_prob, seed, stream, offset, generator, threshold_bits,
                                      global_shape, shard_start);
  }
  return BiasDropoutAdd::apply(x, bias, residual, keep_prob, seed, stream, offset, generator, threshold_bits,
                               global_shape, shard_start);
}

// ---------------------------------------------------------------- a module's streams, and recomputes

// simdrop.torch's modules take the stream of a training forward from their
// `step` buffer, which then advances. Activation checkpointing runs a forward
// twice: once for real and once again in backward to rebuild activations (a
// recompute), and the recompute must see the stream of the forward it repeats
// (docs/python.md, "Checkpointing"), or the backward applies a mask the
// forward never used. torch has no public "is recomputing" flag, so a module
// keeps a ledger of its recent forwards (an int64 tensor attribute, not a
// buffer: it survives deepcopy and TorchScript and stays out of state_dict):
//
//   row 0             [forwards recorded, next row to overwrite, 0]
//   rows 1 .. K       [stream, fingerprint of the forward's inputs, 1 while it may be recomputed]
//
// A forward outside any backward pass is a new forward: stream = step, step
// += 1, a row recorded (the oldest overwritten when K are held). A forward
// inside a backward pass (the autograd engine is running a graph task: both
// torch.utils.checkpoint variants recompute there) is a recompute: its
// inputs' fingerprint names the row of the forward it repeats, and its stream
// is that row's; step does not move. A recompute rebuilds the inputs bit for
// bit (checkpointing relies on it), so a wrong row is never chosen: no row, or
// two live rows with that fingerprint, is an error that says so. A row a
// recompute used retires when that backward pass ends (unless it keeps its
// graph for another backward), so the same batch seen again in a later step
// (frozen layers before the dropout, a second epoch) is not ambiguous. The
// thread-local mode overrides the detection (simdrop.torch.recomputing(): a
// hand-written recompute outside backward, or a new forward inside one).
constexpr int64_t kAuto = -1, kNew = 0, kRecompute = 1;
thread_local int64_t recompute_mode = kAuto;

void set_recomputing_op(int64_t mode) {
  TORCH_CHECK_VALUE(mode == kAuto || mode == kNew || mode == kRecompute,
                    "simdrop: recompute mode must be -1 (detect), 0 (new forwards) or 1 (recomputes)");
  recompute_mode = mode;
}
int64_t recomputing_op() { return recompute_mode; }

uint64_t mix64(uint64_t h, uint64_t v) {
  uint64_t z = h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));  // splitmix64's finaliser on the combination
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Shape, dtype and up to 64 elements (their bits, at evenly spaced logical
// indices, first and last included) of every input: cheap next to the
// dropout itself, and equal for a forward and its bit-identical recompute.
uint64_t fingerprint(const std::vector<at::Tensor>& inputs) {
  constexpr int64_t kSamples = 64;
  uint64_t h = mix64(0x5d7d6f2bULL, inputs.size());
  for (const at::Tensor& t : inputs) {
    h = mix64(h, uint64_t(t.scalar_type()));
    h = mix64(h, uint64_t(t.dim()));
    for (int64_t size : t.sizes()) h = mix64(h, uint64_t(size));
    const int64_t n = t.numel();
    if (n == 0) continue;
    check_cpu(t, "input");
    // A tensor whose values are not in memory here (a wrapper subclass, e.g. an
    // AsyncCollectiveTensor not yet waited on) is refused rather than read.
    TORCH_CHECK_VALUE(t.has_storage() && t.storage().data() != nullptr,
                      "simdrop: a module's input must be a tensor with its values in memory (got ",
                      t.toString(), "): wait on an asynchronous collective's result before the dropout");
    const size_t item = t.element_size();
    TORCH_CHECK_VALUE(item <= 8, "simdrop: cannot fingerprint elements of ", item, " bytes");
    const auto* base = static_cast<const char*>(t.data_ptr());
    const int64_t samples = std::min(n, kSamples);
    for (int64_t k = 0; k < samples; ++k) {
      int64_t rest = samples == 1 ? 0 : int64_t((unsigned __int128)(n - 1) * uint64_t(k) / uint64_t(samples - 1));
      int64_t at = 0;
      for (int64_t d = t.dim(); d-- > 0;) {
        at += (rest % t.size(d)) * t.stride(d);
        rest /= t.size(d);
      }
      uint64_t bits = 0;
      std::memcpy(&bits, base + at * int64_t(item), item);
      h = mix64(h, bits);
    }
  }
  return h;
}

at::Tensor claim_stream_op(const at::Tensor& step, const at::Tensor& ledger, at::TensorList inputs) {
  scalar_of(step, "step");
  TORCH_CHECK_TYPE(ledger.scalar_type() == at::kLong, "simdrop: the ledger must be an int64 tensor");
  TORCH_CHECK_VALUE(ledger.dim() == 2 && ledger.size(0) >= 2 && ledger.size(1) == 3 && ledger.is_contiguous() &&
                        ledger.device().is_cpu(),
                    "simdrop: the ledger must be a contiguous CPU tensor of shape (K + 1, 3), got ", ledger.sizes());
  int64_t* rows = ledger.data_ptr<int64_t>();
  const int64_t capacity = ledger.size(0) - 1;
  const uint64_t print = fingerprint(inputs.vec());
  const int graph_task = torch::autograd::get_current_graph_task_id();
  const bool recompute = recompute_mode == kAuto ? graph_task != -1 : recompute_mode == kRecompute;
  if (recompute) {
    const int64_t held = std::min(rows[0], capacity);
    int64_t found = -1, matches = 0;
    for (int64_t r = 1; r <= held; ++r) {
      if (rows[3 * r + 2] != 1 || uint64_t(rows[3 * r + 1]) != print) continue;
      found = r;
      ++matches;
    }
    TORCH_CHECK(matches <= 1, "simdrop: this recompute repeats one of ", matches,
                " pending forwards of the module with bit-identical inputs, and which one cannot be told; "
                "give those forwards different inputs, separate modules, or explicit streams "
                "(the functional API), see docs/python.md, Checkpointing");
    TORCH_CHECK(matches == 1, "simdrop: a training forward inside a backward pass repeats none of the module's last ",
                held, " forwards (its inputs differ from each): a checkpoint recompute must rebuild its inputs "
                "bit for bit. A new forward inside backward: run it under simdrop.torch.recomputing(False); "
                "see docs/python.md, Checkpointing");
    const int64_t stream = rows[3 * found];
    if (graph_task != -1 && !torch::autograd::get_current_graph_task_keep_graph()) {
      // The backward pass that recomputes this forward frees its graph: retire the row when it ends.
      torch::autograd::Engine::get_default_engine().queue_callback([ledger, found, stream, print] {
        int64_t* row = ledger.data_ptr<int64_t>() + 3 * found;
        if (row[0] == stream && uint64_t(row[1]) == print) row[2] = 0;
      });
    }
    return at::scalar_tensor(stream, at::TensorOptions().dtype(at::kLong));
  }
  int64_t* value = step.data_ptr<int64_t>();
  const int64_t stream = *value;
  *value = int64_t(uint64_t(stream) + 1);
  const int64_t r = 1 + rows[1] % capacity;
  rows[3 * r] = stream;
  rows[3 * r + 1] = int64_t(print);
  rows[3 * r + 2] = 1;
  rows[0] += 1;
  rows[1] = r % capacity;
  return at::scalar_tensor(stream, at::TensorOptions().dtype(at::kLong));
}

// Undoes the new forward claim_stream_op recorded since the ledger held
// `recorded_before` forwards, if there is one: a module's call that failed
// after taking its stream (a bad placement, say) leaves step as it was.
void unclaim_stream_op(const at::Tensor& step, const at::Tensor& ledger, int64_t recorded_before) {
  scalar_of(step, "step");
  TORCH_CHECK_VALUE(ledger.scalar_type() == at::kLong && ledger.dim() == 2 && ledger.size(0) >= 2 &&
                        ledger.size(1) == 3 && ledger.is_contiguous() && ledger.device().is_cpu(),
                    "simdrop: the ledger must be a contiguous int64 CPU tensor of shape (K + 1, 3)");
  int64_t* rows = ledger.data_ptr<int64_t>();
  const int64_t capacity = ledger.size(0) - 1;
  if (rows[0] != recorded_before + 1) return;
  const int64_t last = (rows[1] + capacity - 1) % capacity;  // 0-based index of the newest row
  int64_t* row = rows + 3 * (last + 1);
  int64_t* value = step.data_ptr<int64_t>();
  if (row[2] != 1 || int64_t(uint64_t(row[0]) + 1) != *value) return;
  *value = row[0];
  row[2] = 0;
  rows[0] -= 1;
  rows[1] = last;
}

// ---------------------------------------------------------------- this copy's process-wide switches

void set_isa_op(c10::string_view name) { check_status(simdrop_set_isa(std::string(name).c_str())); }

void set_num_threads_op(int64_t n) {
  TORCH_CHECK_VALUE(n >= INT32_MIN && n <= INT32_MAX, simdrop_status_string(SIMDROP_ERR_NUM_THREADS));
  check_status(simdrop_set_num_threads(int(n)));
}

// (active implementation, implementation of this thread's last call, simdrop_get_num_threads(),
//  the threads a call from this thread uses now)
std::tuple<std::string, std::string, int64_t, int64_t> runtime_op() {
  const int threads = use_torch_threads();
  return {simdrop_active_isa(), simdrop_last_call_isa(), simdrop_get_num_threads(), threads};
}

}  // namespace

TORCH_LIBRARY(simdrop, m) {
  // seed and stream are one-element int64 tensors, so that a compiled graph
  // reads them at run time instead of baking them in; the placement
  // (docs/distributed.md) comes last, with defaults.
  const std::string params =
      "float keep_prob, Tensor seed, Tensor stream, int offset=0, str generator=\"philox\", int threshold_bits=16, "
      "int[]? global_shape=None, int[]? shard_start=None";
  m.def(("dropout(Tensor input, " + params + ") -> Tensor").c_str());
  m.def(("dropout_(Tensor(a!) self, " + params + ") -> ()").c_str());
  m.def(("dropout_mask(Tensor input, " + params + ") -> (Tensor, Tensor)").c_str());
  m.def(("dropout_mask_(Tensor(a!) self, " + params + ") -> Tensor").c_str());
  m.def("dropout_backward_mask(Tensor grad, Tensor mask, float keep_prob, int threshold_bits) -> Tensor");
  m.def(("dropout2d(Tensor input, " + params + ") -> Tensor").c_str());
  m.def(("dropout2d_(Tensor(a!) self, " + params + ") -> ()").c_str());
  m.def(("bias_dropout_add(Tensor x, Tensor bias, Tensor residual, " + params + ") -> Tensor").c_str());
  // The modules' stream bookkeeping (eager and TorchScript; a compiled module uses step directly).
  m.def("_claim_stream(Tensor(a!) step, Tensor(b!) ledger, Tensor[] inputs) -> Tensor");
  m.def("_unclaim_stream(Tensor(a!) step, Tensor(b!) ledger, int recorded_before) -> ()");
  m.def("_set_recomputing(int mode) -> ()", &set_recomputing_op);
  m.def("_recomputing() -> int", &recomputing_op);
  m.def("_set_isa(str name) -> ()", &set_isa_op);
  m.def("_set_num_threads(int n) -> ()", &set_num_threads_op);
  m.def("_runtime() -> (str, str, int, int)", &runtime_op);
}

TORCH_LIBRARY_IMPL(simdrop, CPU, m) {
  m.impl("dropout", &dropout_cpu);
  m.impl("dropout_", &dropout_inplace_cpu);
  m.impl("dropout_mask", &dropout_mask_cpu);
  m.impl("dropout_mask_", &dropout_mask_inplace_cpu);
  m.impl("dropout_backward_mask", &dropout_backward_mask_cpu);
  m.impl("dropout2d", &dropout2d_cpu);
  m.impl("dropout2d_", &dropout2d_inplace_cpu);
  m.impl("bias_dropout_add", &bias_dropout_add_cpu);
  m.impl("_claim_stream", &claim_stream_op);
  m.impl("_unclaim_stream", &unclaim_stream_op);
}

TORCH_LIBRARY_IMPL(simdrop, Autograd, m) {
  m.impl("dropout", &regenerating_autograd<false>);
  m.impl("dropout_", &regenerating_inplace_autograd<false>);
  m.impl("dropout_mask", &dropout_mask_autograd);
  m.impl("dropout_mask_", &dropout_mask_inplace_autograd);
  m.impl("dropout_backward_mask", &dropout_backward_mask_autograd);
  m.impl("dropout2d", &regenerating_autograd<true>);
  m.impl("dropout2d_", &regenerating_inplace_autograd<true>);
  m.impl("bias_dropout_add", &bias_dropout_add_autograd);
  // Reads its inputs' values and returns an integer: nothing to differentiate.
  m.impl("_claim_stream", &claim_stream_op);
  m.impl("_unclaim_stream", &unclaim_stream_op);
}
