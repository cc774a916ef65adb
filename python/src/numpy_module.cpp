// simdrop._simdrop: the numpy bindings (pybind11) behind the `simdrop` package.
//
// Thin on purpose: every check of the stream contract (keep_prob, generator,
// threshold_bits, index range, overlap of the buffers a call sees) is the C
// library's, and its status becomes ValueError(simdrop_status_string(status)).
// This file maps Python arguments onto simdrop_params, numpy arrays (and a
// shard's placement, global_shape= / shard_start=) onto the C calls
// (layout.hpp and execute.hpp: one 1-D call, view calls, or a contiguous
// copy), and checks only what the C calls cannot see: dtypes, the placement,
// the shape, dtype and writability of `out`, and overlap between whole numpy
// arrays. Everything is
// checked before anything is written, and the GIL is released during each C
// call. The public signatures (keyword-only options) are in simdrop/__init__.py.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <climits>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "calls.hpp"
#include "execute.hpp"
#include "layout.hpp"
#include "simdrop/simdrop.h"

namespace py = pybind11;
using namespace simdrop_python;

namespace {

std::string text(py::handle h) { return py::str(h).cast<std::string>(); }

[[noreturn]] void raise_status(int status) { throw py::value_error(simdrop_status_string(status)); }

void check(int status) {
  if (status != SIMDROP_OK) raise_status(status);
}

// ---------------------------------------------------------------- arguments

// A Python integer as 64 bits: [0, 2^64) as is, [-2^63, 0) as its two's
// complement (the bits of a torch int64), anything else ValueError.
uint64_t to_u64(py::handle value, const char* name) {
  PyObject* index = PyNumber_Index(value.ptr());
  if (!index) throw py::error_already_set();  // TypeError: not an integer
  const py::object owner = py::reinterpret_steal<py::object>(index);
  int overflow = 0;
  const long long as_signed = PyLong_AsLongLongAndOverflow(index, &overflow);
  if (overflow == 0) {
    if (as_signed == -1 && PyErr_Occurred()) throw py::error_already_set();
    return uint64_t(as_signed);
  }
  if (overflow > 0) {
    const unsigned long long as_unsigned = PyLong_AsUnsignedLongLong(index);
    if (!PyErr_Occurred()) return uint64_t(as_unsigned);
    PyErr_Clear();
  }
  throw py::value_error(std::string(name) + " must be an integer in [-2^63, 2^64)");
}

// A Python integer that must lie in [low, high]; `status` names the error otherwise.
long long to_bounded(py::handle value, long long low, long long high, const std::string& message) {
  PyObject* index = PyNumber_Index(value.ptr());
  if (!index) throw py::error_already_set();
  const py::object owner = py::reinterpret_steal<py::object>(index);
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(index, &overflow);
  if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
  if (overflow != 0 || v < low || v > high) throw py::value_error(message);
  return v;
}

simdrop_generator to_generator(py::handle name) {
  if (!py::isinstance<py::str>(name))
    throw py::type_error("generator must be a str (\"philox\" or \"xoshiro\"), not " +
                         std::string(py::str(py::type::handle_of(name).attr("__name__"))));
  const std::string text = name.cast<std::string>();
  if (text == "philox") return SIMDROP_PHILOX4X32_10;
  if (text == "xoshiro") return SIMDROP_XOSHIRO128PP;
  throw py::value_error(std::string(simdrop_status_string(SIMDROP_ERR_GENERATOR)) + ": '" + text +
                        "' (use \"philox\" or \"xoshiro\")");
}

// The parameters of one call, validated by the C library before anything else happens.
simdrop_params make_params(py::handle keep_prob, py::handle seed, py::handle stream, py::handle offset,
                           py::handle generator, py::handle threshold_bits) {
  simdrop_params p = simdrop_params_default(1.0f, 0);
  const double keep = PyFloat_AsDouble(keep_prob.ptr());
  if (keep == -1.0 && PyErr_Occurred()) throw py::error_already_set();
  p.keep_prob = keep_prob_to_float(keep);
  p.seed = to_u64(seed, "seed");
  p.stream = to_u64(stream, "stream");
  p.offset = to_u64(offset, "offset");
  p.generator = to_generator(generator);
  p.threshold_bits = uint32_t(to_bounded(threshold_bits, 0, UINT32_MAX, simdrop_status_string(SIMDROP_ERR_THRESHOLD_BITS)));
  check(simdrop_mask(nullptr, 0, &p));  // keep_prob, threshold_bits, generator
  return p;
}

size_t to_count(py::handle n) {
  return size_t(to_bounded(n, 0, LLONG_MAX, "n must be a non-negative integer"));
}

// ---------------------------------------------------------------- arrays

DType dtype_of(const py::array& a, const char* function) {
  const py::dtype d = a.dtype();
  if (d.equal(py::dtype::of<float>())) return DType::f32;
  if (d.equal(py::dtype::of<double>())) return DType::f64;
  if (d.equal(py::dtype("float16"))) return DType::f16;
  throw py::type_error(std::string(function) + ": unsupported dtype " + text(d) +
                       " (float32, float64 or float16)");
}

Strided strided(const py::array& a) {
  Strided s;
  s.data = a.data();
  s.itemsize = a.itemsize();
  for (py::ssize_t j = 0; j < a.ndim(); ++j) {
    s.sizes.push_back(a.shape(j));
    s.strides.push_back(a.strides(j));
  }
  return s;
}

py::array as_array(py::handle obj, const char* function, const char* name) {
  py::array a = py::array::ensure(obj);
  if (!a) throw py::type_error(std::string(function) + ": " + name + " must be array-like");
  return a;
}

// `a` itself when it is C-contiguous and aligned, else a C-contiguous aligned copy.
py::array contiguous_copy_or_self(const py::array& a) {
  return py::module_::import("numpy").attr("require")(a, py::none(), "CA");
}

void copy_into(const py::array& destination, const py::array& source) {
  py::module_::import("numpy").attr("copyto")(destination, source);
}

// global_shape= / shard_start= as given: None, or a sequence of integers
// (tuple, list, numpy array, torch.Size). Only the types are checked here;
// the values are layout.hpp's to judge (check_placement).
std::optional<std::vector<int64_t>> to_shape(py::handle value, const char* name) {
  if (value.is_none()) return std::nullopt;
  if (py::isinstance<py::str>(value) || !PySequence_Check(value.ptr()))
    throw py::type_error(std::string(name) + " must be a sequence of integers, not " +
                         std::string(py::str(py::type::handle_of(value).attr("__name__"))));
  std::vector<int64_t> entries;
  for (py::handle item : py::reinterpret_borrow<py::sequence>(value))
    entries.push_back(to_bounded(item, LLONG_MIN, LLONG_MAX, std::string(name) + " entries must fit in int64"));
  return entries;
}

Placement to_placement(py::handle global_shape, py::handle shard_start) {
  return Placement{to_shape(global_shape, "global_shape"), to_shape(shard_start, "shard_start")};
}

// The element-wise calls: forward (with an optional mask output), the
// regenerating backward, and backward from a stored mask.
py::object elementwise(Op op, const char* function, py::handle x_obj, const simdrop_params& p,
                       const Placement& placement, py::handle out_obj, bool want_mask, py::handle mask_obj) {
  const char* input_name = op == Op::forward ? "x" : "dy";
  py::array x = as_array(x_obj, function, input_name);
  const DType type = dtype_of(x, function);
  const Strided xs = strided(x);
  const uint64_t n = element_count(xs.sizes);
  const std::string misplaced = check_placement(placement, xs.sizes);
  if (!misplaced.empty()) throw py::value_error(std::string(function) + ": " + misplaced);
  IndexMap index;
  if (!placed_index(xs.sizes, p.offset, placement, &index)) raise_status(SIMDROP_ERR_INDEX_OVERFLOW);
  // The stored-mask backward applies bits in the array's own C order: the
  // placement is checked, as seed and stream are, but does not matter.
  const bool views = op != Op::backward_mask;
  if (!views) index = c_order_index(xs.sizes, p.offset);

  py::array out;
  if (out_obj.is_none()) {
    out = py::array(x.dtype(), std::vector<py::ssize_t>(xs.sizes.begin(), xs.sizes.end()));
  } else {
    if (!py::isinstance<py::array>(out_obj)) throw py::type_error(std::string(function) + ": out must be a numpy.ndarray");
    out = py::reinterpret_borrow<py::array>(out_obj);
    if (!out.dtype().equal(x.dtype()))
      throw py::value_error(std::string(function) + ": out has dtype " + text(out.dtype()) + ", " +
                            input_name + " has " + text(x.dtype()));
    if (strided(out).sizes != xs.sizes)
      throw py::value_error(std::string(function) + ": out has shape " + text(out.attr("shape")) +
                            ", " + input_name + " has " + text(x.attr("shape")));
    if (!out.writeable()) throw py::value_error(std::string(function) + ": out is read-only");
  }
  const Strided os = strided(out);
  const bool in_place = same_array(xs, os);
  if (!in_place && spans_overlap(byte_span(xs), byte_span(os)))
    throw py::value_error(std::string(function) + ": out partially overlaps " + input_name +
                          " (only out=" + input_name + ", in place, is allowed)");

  py::array mask_in;
  if (op == Op::backward_mask) {
    mask_in = as_array(mask_obj, function, "mask");
    if (!mask_in.dtype().equal(py::dtype::of<uint8_t>()))
      throw py::type_error(std::string(function) + ": mask must have dtype uint8, not " +
                           text(mask_in.dtype()));
    if (uint64_t(mask_in.size()) != (n + 7) / 8)
      throw py::value_error(std::string(function) + ": mask has " + std::to_string(mask_in.size()) +
                            " bytes, ceil(n/8) = " + std::to_string((n + 7) / 8) + " expected");
    mask_in = contiguous_copy_or_self(mask_in);
    if (spans_overlap(byte_span(strided(mask_in)), byte_span(os)))
      throw py::value_error(std::string(function) + ": out overlaps mask");
  }

  py::array_t<uint8_t> mask_out;
  if (want_mask) mask_out = py::array_t<uint8_t>(py::ssize_t((n + 7) / 8));
  uint8_t* mask_ptr = want_mask ? mask_out.mutable_data() : nullptr;
  const uint8_t* stored = op == Op::backward_mask ? static_cast<const uint8_t*>(mask_in.data()) : nullptr;

  auto run = [&](const Plan& plan, const void* in, void* result) {
    py::gil_scoped_release unlocked;
    return run_plan(op, type, plan, in, result, p, mask_ptr, stored);
  };

  const Plan plan = plan_elementwise(xs, os, index, views);
  int status = SIMDROP_OK;
  if (plan.route != Route::copy) {
    status = run(plan, xs.data, out.mutable_data());
  } else {
    // Any other layout: a contiguous copy of the input, planned again (flat or views), and the result copied out.
    const py::array source = contiguous_copy_or_self(x);
    const bool source_is_copy = source.ptr() != x.ptr();
    const Strided ss = strided(source);
    py::array target = out;
    Plan contiguous_plan;
    if (c_contiguous(os)) contiguous_plan = plan_elementwise(ss, os, index, views);
    if (contiguous_plan.route == Route::copy) {
      // Compute in place on the private copy, or into a new contiguous array.
      target = source_is_copy ? source
                              : py::array(x.dtype(), std::vector<py::ssize_t>(xs.sizes.begin(), xs.sizes.end()));
      contiguous_plan = plan_elementwise(ss, strided(target), index, views);
    }
    if (contiguous_plan.route == Route::copy) throw std::logic_error("simdrop: no plan for a contiguous array");
    status = run(contiguous_plan, source.data(), target.mutable_data());
    if (status == SIMDROP_OK && target.ptr() != out.ptr()) copy_into(out, target);
  }
  check(status);
  if (want_mask) return py::make_tuple(out, mask_out);
  return std::move(out);
}

}  // namespace

PYBIND11_MODULE(_simdrop, m) {
  m.doc() = "simdrop's numpy bindings (use the simdrop package, which gives these their keyword-only signatures)";

  m.def(
      "dropout",
      [](py::handle x, py::handle keep_prob, py::handle seed, py::handle stream, py::handle offset,
         py::handle generator, py::handle threshold_bits, py::handle out, bool return_mask, py::handle global_shape,
         py::handle shard_start) {
        const simdrop_params p = make_params(keep_prob, seed, stream, offset, generator, threshold_bits);
        const Placement placement = to_placement(global_shape, shard_start);
        return elementwise(Op::forward, "simdrop.dropout", x, p, placement, out, return_mask, py::none());
      },
      py::arg("x"), py::arg("keep_prob"), py::arg("seed"), py::arg("stream"), py::arg("offset"),
      py::arg("generator"), py::arg("threshold_bits"), py::arg("out"), py::arg("return_mask"),
      py::arg("global_shape"), py::arg("shard_start"));

  m.def(
      "dropout_backward",
      [](py::handle dy, py::handle keep_prob, py::handle seed, py::handle stream, py::handle offset,
         py::handle generator, py::handle threshold_bits, py::handle mask, py::handle out, py::handle global_shape,
         py::handle shard_start) {
        const simdrop_params p = make_params(keep_prob, seed, stream, offset, generator, threshold_bits);
        const Placement placement = to_placement(global_shape, shard_start);
        const Op op = mask.is_none() ? Op::backward : Op::backward_mask;
        return elementwise(op, "simdrop.dropout_backward", dy, p, placement, out, false, mask);
      },
      py::arg("dy"), py::arg("keep_prob"), py::arg("seed"), py::arg("stream"), py::arg("offset"),
      py::arg("generator"), py::arg("threshold_bits"), py::arg("mask"), py::arg("out"), py::arg("global_shape"),
      py::arg("shard_start"));

  // For the tests and for curious users: how dropout(x, ..., out=None) would run x, as
  // (route, C calls): "flat", "views" or "copy+flat" / "copy+views" (layout.hpp).
  m.def(
      "plan",
      [](py::handle x_obj, py::handle offset, py::handle global_shape, py::handle shard_start) {
        py::array x = as_array(x_obj, "simdrop._simdrop.plan", "x");
        const Strided xs = strided(x);
        const Placement placement = to_placement(global_shape, shard_start);
        const std::string misplaced = check_placement(placement, xs.sizes);
        if (!misplaced.empty()) throw py::value_error(misplaced);
        IndexMap index;
        if (!placed_index(xs.sizes, to_u64(offset, "offset"), placement, &index))
          raise_status(SIMDROP_ERR_INDEX_OVERFLOW);
        Strided contiguous = xs;  // a new output, or a contiguous copy of the input: C order, aligned
        contiguous.data = nullptr;
        int64_t stride = xs.itemsize;
        for (size_t j = xs.sizes.size(); j-- > 0;) {
          contiguous.strides[j] = stride;
          stride *= xs.sizes[j];
        }
        Plan plan = plan_elementwise(xs, contiguous, index, true);
        std::string route = "copy+";
        if (plan.route != Route::copy) route.clear();
        else plan = plan_elementwise(contiguous, contiguous, index, true);
        route += plan.route == Route::flat ? "flat" : plan.route == Route::views ? "views" : "copy";
        return py::make_tuple(route, plan.route == Route::views ? plan.calls() : uint64_t(1));
      },
      py::arg("x"), py::arg("offset"), py::arg("global_shape"), py::arg("shard_start"));

  // The array-free checks of a placement, for simdrop.torch's module constructors (layout.hpp).
  m.def(
      "check_placement",
      [](py::handle global_shape, py::handle shard_start) {
        const std::string message = check_placement(to_placement(global_shape, shard_start));
        if (!message.empty()) throw py::value_error(message);
      },
      py::arg("global_shape"), py::arg("shard_start"));

  m.def(
      "mask",
      [](py::handle n_obj, py::handle keep_prob, py::handle seed, py::handle stream, py::handle offset,
         py::handle generator, py::handle threshold_bits) {
        const size_t n = to_count(n_obj);
        const simdrop_params p = make_params(keep_prob, seed, stream, offset, generator, threshold_bits);
        check(check_params_and_range(&p, n));
        py::array_t<uint8_t> bits(py::ssize_t((n + 7) / 8));
        uint8_t* data = bits.mutable_data();
        int status;
        {
          py::gil_scoped_release unlocked;
          status = simdrop_mask(data, n, &p);
        }
        check(status);
        return bits;
      },
      py::arg("n"), py::arg("keep_prob"), py::arg("seed"), py::arg("stream"), py::arg("offset"),
      py::arg("generator"), py::arg("threshold_bits"));

  m.def(
      "fill_u32",
      [](py::handle n_obj, py::handle seed, py::handle stream, py::handle offset, py::handle generator) {
        const size_t n = to_count(n_obj);
        const simdrop_params p = make_params(py::float_(1.0), seed, stream, offset, generator, py::int_(32));
        check(check_params_and_range(&p, n));
        py::array_t<uint32_t> words(static_cast<py::ssize_t>(n));
        uint32_t* data = words.mutable_data();
        int status;
        {
          py::gil_scoped_release unlocked;
          status = simdrop_fill_u32(data, n, &p);
        }
        check(status);
        return words;
      },
      py::arg("n"), py::arg("seed"), py::arg("stream"), py::arg("offset"), py::arg("generator"));

  m.def(
      "set_isa", [](const std::string& name) { check(simdrop_set_isa(name.c_str())); }, py::arg("name"));
  m.def("active_isa", [] { return std::string(simdrop_active_isa()); });
  m.def("last_call_isa", [] { return std::string(simdrop_last_call_isa()); });
  m.def("isa_names", [] {
    std::vector<std::string> names;
    for (size_t i = 0; i < simdrop_isa_count(); ++i) names.emplace_back(simdrop_isa_name(i));
    return names;
  });
  m.def(
      "isa_supported", [](const std::string& name) { return simdrop_isa_supported(name.c_str()) != 0; },
      py::arg("name"));
  m.def(
      "set_num_threads",
      [](py::handle n) {
        check(simdrop_set_num_threads(int(to_bounded(n, INT_MIN, INT_MAX, simdrop_status_string(SIMDROP_ERR_NUM_THREADS)))));
      },
      py::arg("n"));
  m.def("get_num_threads", [] { return simdrop_get_num_threads(); });
  m.def("status_string", [](int status) { return std::string(simdrop_status_string(status)); }, py::arg("status"));
  m.attr("version") = py::make_tuple(SIMDROP_VERSION_MAJOR, SIMDROP_VERSION_MINOR, SIMDROP_VERSION_PATCH);
  m.attr("library_version") = std::string(simdrop_version());
}
