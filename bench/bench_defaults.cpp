// The runtime-facing calls at the defaults (issue 25): every call a training
// framework makes, with simdrop_params_default (Philox, 16-bit thresholds,
// keep_prob 0.9), at shapes real tensors have, on the implementation this CPU
// picks by itself. Single thread at 32K elements (in cache), and 64M elements
// (out of cache) on 1 thread and on all threads:
//   defaults/forward             1-D forward, no mask                            8 bytes/element
//   defaults/forward_mask        1-D forward writing its mask                    8.125
//   defaults/forward_mask_offset3  the same at global offset 3 (bits in order)   8.125
//   defaults/backward            the regenerating backward                       8
//   defaults/backward_mask       the backward from a stored mask                 8.125
//   defaults/forward_f64, defaults/forward_bf16, defaults/forward_f16           16, 4, 4
//   defaults/forward_2d_cols1000         rows of 1000 of ld 1024                  8
//   defaults/forward_2d_cols1000_offset3 the same at global offset 3             8
//   defaults/forward_2d_cols1000_mask    with its mask (ldmask 128)              8.125
//   defaults/channels_first, defaults/channels_last   spatial 64               8
//   defaults/bias_dropout_add_cols1000   x, residual in, y out (+ the bias)      12
//   defaults/view_shard300       a column shard: rows of 300 of a tensor of 1000
//                                columns, at global offset 7 (any alignment)     8
// The 2-D, fused and shard rows process whole rows, floor(n / cols) * cols
// elements (97.7 % of n at 32K with 1000 columns, 99.97 % at 64M); their
// counters count n, as their roof does.
// bench/defaults_table.py turns a run's JSON into the table of issue 25's
// targets: in cache against defaults/forward at 32K, out of cache against
// min(paired copy roof, threads x the call's own in-cache speed).
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.hpp"

namespace {

constexpr uint64_t seed = 0x5eed5eedULL;
constexpr size_t in_cache = size_t(32) << 10, out_of_cache = size_t(64) << 20;

struct buffers {
  std::vector<float> x, y, residual, bias, x2d, y2d;
  std::vector<double> x64, y64;
  std::vector<uint16_t> x16, y16;
  std::vector<uint8_t> mask;
};

// Written once, outside timing (first touch), one set per size.
buffers& buffers_for(size_t n) {
  static std::map<size_t, std::unique_ptr<buffers>> cache;
  std::unique_ptr<buffers>& slot = cache[n];
  if (!slot) {
    slot = std::make_unique<buffers>();
    buffers& b = *slot;
    b.x.assign(n, 1.5f);
    b.y.assign(n, 0.0f);
    b.residual.assign(n, 0.5f);
    b.bias.assign(1000, 0.125f);
    b.x2d.assign(n / 1000 * 1024 + 1024, 1.5f);
    b.y2d.assign(n / 1000 * 1024 + 1024, 0.0f);
    b.x64.assign(n, 1.25);
    b.y64.assign(n, 0.0);
    b.x16.assign(n, 0x3E00);
    b.y16.assign(n, 0);
    b.mask.assign(n / 1000 * 128 + n / 8 + 1024, 0);  // the 1-D mask, or the 2-D one (ldmask 128)
  }
  return *slot;
}

using call_fn = int (*)(buffers& b, size_t n, simdrop_params p);

void add(const std::string& call, size_t n, int threads, double bytes_per_element, call_fn fn) {
  const std::string isa = simdrop_active_isa();
  simdrop_bench::add_row("defaults/" + call + "/" + isa, n, threads, bytes_per_element,
                         [=](benchmark::State& state) {
                           buffers& b = buffers_for(n);
                           if (!simdrop_bench::use_simdrop(state, isa.c_str(), threads)) return;
                           simdrop_params p = simdrop_params_default(simdrop_bench::keep_prob, seed);
                           for (auto _ : state) {
                             ++p.stream;  // a fresh mask per call, as per training step
                             const int status = fn(b, n, p);
                             if (status != SIMDROP_OK) {
                               state.SkipWithError(simdrop_status_string(status));
                               break;
                             }
                             benchmark::ClobberMemory();
                           }
                         });
}

void register_calls(size_t n, int threads) {
  add("forward", n, threads, 8.0, [](buffers& b, size_t n, simdrop_params p) {
    return simdrop_forward_f32(b.x.data(), b.y.data(), n, &p, nullptr);
  });
  add("forward_mask", n, threads, 8.125, [](buffers& b, size_t n, simdrop_params p) {
    return simdrop_forward_f32(b.x.data(), b.y.data(), n, &p, b.mask.data());
  });
  add("forward_mask_offset3", n, threads, 8.125, [](buffers& b, size_t n, simdrop_params p) {
    p.offset = 3;
    return simdrop_forward_f32(b.x.data(), b.y.data(), n, &p, b.mask.data());
  });
  add("backward", n, threads, 8.0, [](buffers& b, size_t n, simdrop_params p) {
    return simdrop_backward_f32(b.x.data(), b.y.data(), n, &p);
  });
  add("backward_mask", n, threads, 8.125, [](buffers& b, size_t n, simdrop_params p) {
    return simdrop_backward_mask_f32(b.x.data(), b.mask.data(), b.y.data(), n, &p);
  });
  add("forward_f64", n, threads, 16.0, [](buffers& b, size_t n, simdrop_params p) {
    return simdrop_forward_f64(b.x64.data(), b.y64.data(), n, &p, nullptr);
  });
  add("forward_bf16", n, threads, 4.0, [](buffers& b, size_t n, simdrop_params p) {
    return simdrop_forward_bf16(b.x16.data(), b.y16.data(), n, &p, nullptr);
  });
  add("forward_f16", n, threads, 4.0, [](buffers& b, size_t n, simdrop_params p) {
    return simdrop_forward_f16(b.x16.data(), b.y16.data(), n, &p, nullptr);
  });
  add("forward_2d_cols1000", n, threads, 8.0, [](buffers& b, size_t n, simdrop_params p) {
    return simdrop_forward_2d_f32(b.x2d.data(), 1024, b.y2d.data(), 1024, n / 1000, 1000, &p, nullptr, 0);
  });
  add("forward_2d_cols1000_offset3", n, threads, 8.0, [](buffers& b, size_t n, simdrop_params p) {
    p.offset = 3;
    return simdrop_forward_2d_f32(b.x2d.data(), 1024, b.y2d.data(), 1024, n / 1000, 1000, &p, nullptr, 0);
  });
  add("forward_2d_cols1000_mask", n, threads, 8.125, [](buffers& b, size_t n, simdrop_params p) {
    return simdrop_forward_2d_f32(b.x2d.data(), 1024, b.y2d.data(), 1024, n / 1000, 1000, &p, b.mask.data(), 128);
  });
  add("channels_first", n, threads, 8.0, [](buffers& b, size_t n, simdrop_params p) {
    return simdrop_forward_channels_f32(b.x.data(), b.y.data(), n / (256 * 64), 256, 64, 0, &p, nullptr);
  });
  add("channels_last", n, threads, 8.0, [](buffers& b, size_t n, simdrop_params p) {
    return simdrop_forward_channels_f32(b.x.data(), b.y.data(), n / (256 * 64), 256, 64, 1, &p, nullptr);
  });
  add("bias_dropout_add_cols1000", n, threads, 12.0, [](buffers& b, size_t n, simdrop_params p) {
    return simdrop_bias_dropout_add_f32(b.x.data(), b.bias.data(), b.residual.data(), b.y.data(), n / 1000, 1000,
                                        &p, nullptr);
  });
  add("view_shard300", n, threads, 8.0, [](buffers& b, size_t n, simdrop_params p) {
    p.offset = 7;
    return simdrop_forward_view_f32(b.x.data(), 300, b.y.data(), 300, n / 300, 300, 1000, &p, nullptr, 0);
  });
}

void register_defaults(const simdrop_bench::config& cfg) {
  bool small = false, large = false;
  for (size_t s : cfg.sizes) {
    small = small || s == in_cache;
    large = large || s == out_of_cache;
  }
  if (small) register_calls(in_cache, 1);
  if (large) {
    register_calls(out_of_cache, 1);
    if (cfg.all_threads > 1) register_calls(out_of_cache, cfg.all_threads);
  }
}

}  // namespace

SIMDROP_BENCH_REGISTRAR(70, register_defaults);
