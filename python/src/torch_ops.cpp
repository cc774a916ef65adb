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
// Integers are int64 in TorchScript: seed, stream and offset carry the bits of
// the C API's uint64 values (two's complement). keep_prob arrives as a double
// and is rounded to float, as simdrop_params holds it.
#include <ATen/ATen.h>
#include <ATen/MemoryOverlap.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#ifdef SIMDROP_PYTHON_OPENMP
#include <omp.h>
#endif

#include "calls.hpp"
#include "layout.hpp"
#include "simdrop/simdrop.h"

namespace {

using simdrop_python::DType;
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

// ---------------------------------------------------------------- element-wise kernels

enum class Op { forward, backward_mask };

// out = dropout(x) (or the masked backward of x), `out` allocated with x's
// sizes; `out` may be x (in place). The index rule and the routes: layout.hpp.
void run_elementwise(Op op, const at::Tensor& x, const at::Tensor& out, const simdrop_params& p, uint8_t* mask_out,
                     const uint8_t* mask_in) {
  const DType type = dtype_of(x, "input");
  const Strided xs = strided(x);
  const Strided os = strided(out);
  const uint64_t n = simdrop_python::element_count(xs.sizes);
  check_status(simdrop_python::check_params_and_range(&p, n));
  auto flat = [&](const void* in, void* result) {
    if (op == Op::forward) return simdrop_python::forward_flat(type, in, result, n, &p, mask_out);
    return simdrop_python::backward_mask_flat(type, in, mask_in, result, n, &p);
  };
  const Plan plan = simdrop_python::plan_elementwise(xs, os, simdrop_python::c_order_index(xs.sizes, p.offset),
                                                     type == DType::f32 && op == Op::forward);
  int status = SIMDROP_OK;
  if (plan.route == Route::flat) {
    status = flat(xs.data, out.data_ptr());
  } else if (plan.route == Route::rows) {
    const bool mask_in_call = mask_out && plan.cols % 8 == 0;
    if (mask_out && !mask_in_call) status = simdrop_mask(mask_out, n, &p);
    if (status == SIMDROP_OK)
      status = simdrop_forward_2d_f32(static_cast<const float*>(xs.data), plan.ld_in, out.data_ptr<float>(),
                                      plan.ld_out, plan.rows, plan.cols, &p, mask_in_call ? mask_out : nullptr,
                                      plan.cols / 8);
  } else {
    const at::Tensor source = x.contiguous();
    const bool source_is_copy = !source.is_same(x);
    at::Tensor target;
    if (out.is_contiguous())
      target = out;
    else if (source_is_copy)
      target = source;  // compute in place on the private copy
    else
      target = new_contiguous(x);
    status = flat(source.data_ptr(), target.data_ptr());
    if (status == SIMDROP_OK && !target.is_same(out)) out.copy_(target);
  }
  check_status(status);
}

at::Tensor dropout_cpu(const at::Tensor& input, double keep_prob, int64_t seed, int64_t stream, int64_t offset,
                       c10::string_view generator, int64_t threshold_bits) {
  const simdrop_params p = make_params(keep_prob, seed, stream, offset, generator, threshold_bits);
  check_cpu(input, "input");
  dtype_of(input, "input");
  use_torch_threads();
  at::Tensor out = new_contiguous(input);
  run_elementwise(Op::forward, input, out, p, nullptr, nullptr);
  return out;
}

at::Tensor dropout_inplace_cpu(const at::Tensor& self, double keep_prob, int64_t seed, int64_t stream, int64_t offset,
                               c10::string_view generator, int64_t threshold_bits) {
  const simdrop_params p = make_params(keep_prob, seed, stream, offset, generator, threshold_bits);
  check_cpu(self, "input");
  dtype_of(self, "input");
  check_no_internal_overlap(self);
  use_torch_threads();
  run_elementwise(Op::forward, self, self, p, nullptr, nullptr);
  return self;
}

at::Tensor new_mask(const at::Tensor& like) {
  return at::empty({(like.numel() + 7) / 8}, like.options().dtype(at::kByte));
}

std::tuple<at::Tensor, at::Tensor> dropout_mask_cpu(const at::Tensor& input, double keep_prob, int64_t seed,
                                                    int64_t stream, int64_t offset, c10::string_view generator,
                                                    int64_t threshold_bits) {
  const simdrop_params p = make_params(keep_prob, seed, stream, offset, generator, threshold_bits);
  check_cpu(input, "input");
  dtype_of(input, "input");
  use_torch_threads();
  at::Tensor out = new_contiguous(input);
  at::Tensor mask = new_mask(input);
  run_elementwise(Op::forward, input, out, p, mask.data_ptr<uint8_t>(), nullptr);
  return {out, mask};
}

std::tuple<at::Tensor, at::Tensor> dropout_mask_inplace_cpu(const at::Tensor& self, double keep_prob, int64_t seed,
                                                            int64_t stream, int64_t offset,
                                                            c10::string_view generator, int64_t threshold_bits) {
  const simdrop_params p = make_params(keep_prob, seed, stream, offset, generator, threshold_bits);
  check_cpu(self, "input");
  dtype_of(self, "input");
  check_no_internal_overlap(self);
  use_torch_threads();
  at::Tensor mask = new_mask(self);
  run_elementwise(Op::forward, self, self, p, mask.data_ptr<uint8_t>(), nullptr);
  return {self, mask};
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
  at::Tensor out = new_contiguous(grad);
  run_elementwise(Op::backward_mask, grad, out, p, nullptr, bits.data_ptr<uint8_t>());
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

// y = channel dropout of x (dense, contiguous or channels-last); y may be x.
void run_channels(const at::Tensor& x, const at::Tensor& y, const simdrop_params& p) {
  const DType type = dtype_of(x, "input");
  TORCH_CHECK_VALUE(x.dim() >= 2, "simdrop: channel dropout needs an input of shape (N, C, *), got ", x.sizes());
  const int64_t batch = x.size(0), channels = x.size(1);
  const int64_t decisions = batch * channels;
  const int64_t spatial = decisions == 0 ? 0 : x.numel() / decisions;
  const bool channels_last = !x.is_contiguous();  // the caller passes contiguous or channels-last tensors
  check_status(simdrop_python::check_params_and_range(&p, uint64_t(decisions)));
  if (type == DType::f32) {
    check_status(simdrop_forward_channels_f32(x.data_ptr<float>(), y.data_ptr<float>(), size_t(batch),
                                              size_t(channels), size_t(spatial), channels_last ? 1 : 0, &p,
                                              nullptr));
    return;
  }
  std::vector<uint8_t> bits(size_t((decisions + 7) / 8));
  check_status(simdrop_mask(bits.data(), size_t(decisions), &p));
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

at::Tensor dropout2d_cpu(const at::Tensor& input, double keep_prob, int64_t seed, int64_t stream, int64_t offset,
                         c10::string_view generator, int64_t threshold_bits) {
  const simdrop_params p = make_params(keep_prob, seed, stream, offset, generator, threshold_bits);
  check_cpu(input, "input");
  dtype_of(input, "input");
  use_torch_threads();
  const at::Tensor source = input.is_contiguous() || channels_last_dense(input) ? input : input.contiguous();
  at::Tensor out = at::empty_strided(source.sizes(), source.strides(), source.options());
  run_channels(source, out, p);
  return out;
}

at::Tensor dropout2d_inplace_cpu(const at::Tensor& self, double keep_prob, int64_t seed, int64_t stream,
                                 int64_t offset, c10::string_view generator, int64_t threshold_bits) {
  const simdrop_params p = make_params(keep_prob, seed, stream, offset, generator, threshold_bits);
  check_cpu(self, "input");
  dtype_of(self, "input");
  check_no_internal_overlap(self);
  use_torch_threads();
  if (self.is_contiguous() || channels_last_dense(self)) {
    run_channels(self, self, p);
  } else {
    const at::Tensor copy = self.contiguous();
    run_channels(copy, copy, p);
    self.copy_(copy);
  }
  return self;
}

// ---------------------------------------------------------------- bias + dropout + residual

at::Tensor bias_dropout_add_cpu(const at::Tensor& x, const at::Tensor& bias, const at::Tensor& residual,
                                double keep_prob, int64_t seed, int64_t stream, int64_t offset,
                                c10::string_view generator, int64_t threshold_bits) {
  const simdrop_params p = make_params(keep_prob, seed, stream, offset, generator, threshold_bits);
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
  use_torch_threads();
  if (type != DType::f32) {
    // No fused call for this type: residual + dropout(x + bias), each step rounded in the type.
    const at::Tensor h = x + bias;
    at::Tensor out = new_contiguous(h);
    run_elementwise(Op::forward, h, out, p, nullptr, nullptr);
    out.add_(residual);
    return out;
  }
  const at::Tensor xc = x.contiguous(), bc = bias.contiguous(), rc = residual.contiguous();
  at::Tensor out = new_contiguous(x);
  const int64_t rows = cols == 0 ? 0 : x.numel() / cols;
  check_status(simdrop_bias_dropout_add_f32(xc.data_ptr<float>(), bc.data_ptr<float>(), rc.data_ptr<float>(),
                                            out.data_ptr<float>(), size_t(rows), size_t(cols), &p, nullptr));
  return out;
}

// ---------------------------------------------------------------- calls through the dispatcher

using DropoutSignature = at::Tensor(const at::Tensor&, double, int64_t, int64_t, int64_t, c10::string_view, int64_t);
using MaskSignature = std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, double, int64_t, int64_t, int64_t,
                                                          c10::string_view, int64_t);
using BackwardMaskSignature = at::Tensor(const at::Tensor&, const at::Tensor&, double, int64_t);
using BiasSignature = at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&, double, int64_t, int64_t,
                                 int64_t, c10::string_view, int64_t);

template <class Signature>
c10::TypedOperatorHandle<Signature> find_op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<Signature>();
}

// The handles, looked up once (the ops are registered when the library loads).
const c10::TypedOperatorHandle<DropoutSignature>& dropout_op(bool channels, bool inplace) {
  static const auto plain = find_op<DropoutSignature>("simdrop::dropout");
  static const auto plain_inplace = find_op<DropoutSignature>("simdrop::dropout_");
  static const auto channel = find_op<DropoutSignature>("simdrop::dropout2d");
  static const auto channel_inplace = find_op<DropoutSignature>("simdrop::dropout2d_");
  return channels ? (inplace ? channel_inplace : channel) : (inplace ? plain_inplace : plain);
}
const c10::TypedOperatorHandle<MaskSignature>& dropout_mask_op(bool inplace) {
  static const auto plain = find_op<MaskSignature>("simdrop::dropout_mask");
  static const auto plain_inplace = find_op<MaskSignature>("simdrop::dropout_mask_");
  return inplace ? plain_inplace : plain;
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

// The parameters of one dropout call, kept in the autograd context (as IValues:
// no tensor is saved).
struct Saved {
  double keep_prob;
  int64_t seed, stream, offset;
  std::string generator;
  int64_t threshold_bits;

  void store(AutogradContext* ctx) const {
    ctx->saved_data["keep_prob"] = keep_prob;
    ctx->saved_data["seed"] = seed;
    ctx->saved_data["stream"] = stream;
    ctx->saved_data["offset"] = offset;
    ctx->saved_data["generator"] = generator;
    ctx->saved_data["threshold_bits"] = threshold_bits;
  }
  static Saved load(AutogradContext* ctx) {
    return Saved{ctx->saved_data["keep_prob"].toDouble(), ctx->saved_data["seed"].toInt(),
                 ctx->saved_data["stream"].toInt(), ctx->saved_data["offset"].toInt(),
                 ctx->saved_data["generator"].toStringRef(), ctx->saved_data["threshold_bits"].toInt()};
  }
};

enum class Kind : int64_t { elementwise = 0, channels = 1 };

// dropout, dropout_, dropout2d, dropout2d_: backward regenerates (the same op on the gradient).
struct RegeneratingDropout : public torch::autograd::Function<RegeneratingDropout> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input, double keep_prob, int64_t seed,
                            int64_t stream, int64_t offset, c10::string_view generator, int64_t threshold_bits,
                            int64_t kind, bool inplace) {
    Saved{keep_prob, seed, stream, offset, std::string(generator), threshold_bits}.store(ctx);
    ctx->saved_data["kind"] = kind;
    at::AutoDispatchBelowADInplaceOrView guard;
    const bool channels = Kind(kind) == Kind::channels;
    at::Tensor result =
        dropout_op(channels, inplace).call(input, keep_prob, seed, stream, offset, generator, threshold_bits);
    if (inplace) ctx->mark_dirty({input});
    return result;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const Saved s = Saved::load(ctx);
    const bool channels = Kind(ctx->saved_data["kind"].toInt()) == Kind::channels;
    at::Tensor grad_input;
    if (grads[0].defined())
      grad_input = dropout_op(channels, false)
                       .call(grads[0], s.keep_prob, s.seed, s.stream, s.offset, s.generator, s.threshold_bits);
    return {grad_input, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

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
    const at::Tensor mask = ctx->get_saved_variables()[0];
    at::Tensor grad_grad;
    if (grads[0].defined())
      grad_grad = backward_mask_op()
                      .call(grads[0], mask, ctx->saved_data["keep_prob"].toDouble(),
                            ctx->saved_data["threshold_bits"].toInt());
    return {grad_grad, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// dropout_mask, dropout_mask_: saves the 1-bit mask (ceil(n/8) bytes) and nothing else.
struct StoredMaskDropout : public torch::autograd::Function<StoredMaskDropout> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& input, double keep_prob, int64_t seed,
                               int64_t stream, int64_t offset, c10::string_view generator, int64_t threshold_bits,
                               bool inplace) {
    ctx->saved_data["keep_prob"] = keep_prob;
    ctx->saved_data["threshold_bits"] = threshold_bits;
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [output, mask] =
        dropout_mask_op(inplace).call(input, keep_prob, seed, stream, offset, generator, threshold_bits);
    if (inplace) ctx->mark_dirty({input});
    ctx->mark_non_differentiable({mask});
    ctx->save_for_backward({mask});
    return {output, mask};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const at::Tensor mask = ctx->get_saved_variables()[0];
    at::Tensor grad_input;
    if (grads[0].defined())
      grad_input = backward_mask_op()
                       .call(grads[0], mask, ctx->saved_data["keep_prob"].toDouble(),
                             ctx->saved_data["threshold_bits"].toInt());
    return {grad_input, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// bias_dropout_add: d x = d(x + bias) = dropout(dy) (regenerated), d bias = its column sums, d residual = dy.
struct BiasDropoutAdd : public torch::autograd::Function<BiasDropoutAdd> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& bias,
                            const at::Tensor& residual, double keep_prob, int64_t seed, int64_t stream,
                            int64_t offset, c10::string_view generator, int64_t threshold_bits) {
    Saved{keep_prob, seed, stream, offset, std::string(generator), threshold_bits}.store(ctx);
    at::AutoDispatchBelowADInplaceOrView guard;
    return bias_dropout_add_op().call(x, bias, residual, keep_prob, seed, stream, offset, generator, threshold_bits);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const Saved s = Saved::load(ctx);
    const at::Tensor& grad = grads[0];
    at::Tensor grad_x, grad_bias;
    if (grad.defined()) {
      grad_x = dropout_op(false, false).call(grad, s.keep_prob, s.seed, s.stream, s.offset, s.generator, s.threshold_bits);
      grad_bias = grad_x.reshape({-1, grad_x.size(-1)}).sum(0);
    }
    return {grad_x, grad_bias, grad, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor()};
  }
};

// A call with nothing to differentiate skips the autograd Function: cheaper, and
// for an in-place call the output is then the input itself (not a view of it);
// in-place calls then bump the version counter, as PyTorch's ADInplaceOrView
// kernels do.
bool records_graph(const at::Tensor& t) { return at::GradMode::is_enabled() && t.requires_grad(); }

at::Tensor dropout_autograd(const at::Tensor& input, double keep_prob, int64_t seed, int64_t stream, int64_t offset,
                            c10::string_view generator, int64_t threshold_bits) {
  if (!records_graph(input)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return dropout_op(false, false).call(input, keep_prob, seed, stream, offset, generator, threshold_bits);
  }
  return RegeneratingDropout::apply(input, keep_prob, seed, stream, offset, generator, threshold_bits,
                                    int64_t(Kind::elementwise), false);
}
at::Tensor dropout_inplace_autograd(const at::Tensor& self, double keep_prob, int64_t seed, int64_t stream,
                                    int64_t offset, c10::string_view generator, int64_t threshold_bits) {
  if (!records_graph(self)) {
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      dropout_op(false, true).call(self, keep_prob, seed, stream, offset, generator, threshold_bits);
    }
    torch::autograd::impl::bump_version(self);
    return self;
  }
  return RegeneratingDropout::apply(self, keep_prob, seed, stream, offset, generator, threshold_bits,
                                    int64_t(Kind::elementwise), true);
}
at::Tensor dropout2d_autograd(const at::Tensor& input, double keep_prob, int64_t seed, int64_t stream,
                              int64_t offset, c10::string_view generator, int64_t threshold_bits) {
  if (!records_graph(input)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return dropout_op(true, false).call(input, keep_prob, seed, stream, offset, generator, threshold_bits);
  }
  return RegeneratingDropout::apply(input, keep_prob, seed, stream, offset, generator, threshold_bits,
                                    int64_t(Kind::channels), false);
}
at::Tensor dropout2d_inplace_autograd(const at::Tensor& self, double keep_prob, int64_t seed, int64_t stream,
                                      int64_t offset, c10::string_view generator, int64_t threshold_bits) {
  if (!records_graph(self)) {
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      dropout_op(true, true).call(self, keep_prob, seed, stream, offset, generator, threshold_bits);
    }
    torch::autograd::impl::bump_version(self);
    return self;
  }
  return RegeneratingDropout::apply(self, keep_prob, seed, stream, offset, generator, threshold_bits,
                                    int64_t(Kind::channels), true);
}
std::tuple<at::Tensor, at::Tensor> dropout_mask_autograd(const at::Tensor& input, double keep_prob, int64_t seed,
                                                         int64_t stream, int64_t offset, c10::string_view generator,
                                                         int64_t threshold_bits) {
  if (!records_graph(input)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return dropout_mask_op(false).call(input, keep_prob, seed, stream, offset, generator, threshold_bits);
  }
  auto outputs = StoredMaskDropout::apply(input, keep_prob, seed, stream, offset, generator, threshold_bits, false);
  return {outputs[0], outputs[1]};
}
std::tuple<at::Tensor, at::Tensor> dropout_mask_inplace_autograd(const at::Tensor& self, double keep_prob,
                                                                 int64_t seed, int64_t stream, int64_t offset,
                                                                 c10::string_view generator,
                                                                 int64_t threshold_bits) {
  if (!records_graph(self)) {
    at::Tensor mask;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      mask = std::get<1>(
          dropout_mask_op(true).call(self, keep_prob, seed, stream, offset, generator, threshold_bits));
    }
    torch::autograd::impl::bump_version(self);
    return {self, mask};
  }
  auto outputs = StoredMaskDropout::apply(self, keep_prob, seed, stream, offset, generator, threshold_bits, true);
  return {outputs[0], outputs[1]};
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
                                     double keep_prob, int64_t seed, int64_t stream, int64_t offset,
                                     c10::string_view generator, int64_t threshold_bits) {
  if (!records_graph(x) && !records_graph(bias) && !records_graph(residual)) {
    at::AutoDispatchBelowADInplaceOrView guard;
    return bias_dropout_add_op().call(x, bias, residual, keep_prob, seed, stream, offset, generator, threshold_bits);
  }
  return BiasDropoutAdd::apply(x, bias, residual, keep_prob, seed, stream, offset, generator, threshold_bits);
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
  const std::string params = "float keep_prob, int seed, int stream, int offset, str generator, int threshold_bits";
  m.def(("dropout(Tensor input, " + params + ") -> Tensor").c_str());
  m.def(("dropout_(Tensor(a!) self, " + params + ") -> Tensor(a!)").c_str());
  m.def(("dropout_mask(Tensor input, " + params + ") -> (Tensor, Tensor)").c_str());
  m.def(("dropout_mask_(Tensor(a!) self, " + params + ") -> (Tensor(a!), Tensor)").c_str());
  m.def("dropout_backward_mask(Tensor grad, Tensor mask, float keep_prob, int threshold_bits) -> Tensor");
  m.def(("dropout2d(Tensor input, " + params + ") -> Tensor").c_str());
  m.def(("dropout2d_(Tensor(a!) self, " + params + ") -> Tensor(a!)").c_str());
  m.def(("bias_dropout_add(Tensor x, Tensor bias, Tensor residual, " + params + ") -> Tensor").c_str());
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
}

TORCH_LIBRARY_IMPL(simdrop, Autograd, m) {
  m.impl("dropout", &dropout_autograd);
  m.impl("dropout_", &dropout_inplace_autograd);
  m.impl("dropout_mask", &dropout_mask_autograd);
  m.impl("dropout_mask_", &dropout_mask_inplace_autograd);
  m.impl("dropout_backward_mask", &dropout_backward_mask_autograd);
  m.impl("dropout2d", &dropout2d_autograd);
  m.impl("dropout2d_", &dropout2d_inplace_autograd);
  m.impl("bias_dropout_add", &bias_dropout_add_autograd);
}
