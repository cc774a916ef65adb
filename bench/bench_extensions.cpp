// Rows for the runtime-facing calls of issue 5, single thread, at 32K, 4M and
// 64M elements (those of the run's sizes), on every implementation this CPU
// runs (64M: the SIMD ones only; scalar is the reference, not a fast path):
//   forward_2d/<isa>            rows of 1024 floats with ld 1088 (strided views)  8 bytes/element
//   channels_first/<isa>        NCHW, one decision per (n, c)                     8
//   channels_last/<isa>         NHWC                                              8
//   forward_2d_offset3/<isa>    forward_2d at global offset 3: every row's first and last
//                               vectors cross a register boundary                8
//   bias_dropout_add/<isa>      rows of 1024, reads x and residual, writes y     12 (+ the bias)
//   bias_dropout_add_offset3/<isa>  the same at global offset 3                 12
//   forward_f64/<isa>           read 8, write 8                                  16
//   forward_bf16/<isa>          read 2, write 2                                   4
//   forward_f16/<isa>           read 2, write 2                                   4
//   forward_2d_mask/<isa>       forward_2d writing its mask (ldmask 136)           8 (+ 1/8)
//   backward_2d/<isa>           forward_2d's backward (dy, dx)                    8
//   backward_f64/<isa>          16; backward_bf16/<isa>, backward_f16/<isa>: 4
//   view_shard512/<isa>         a column shard: rows of 512 of a tensor of 1024   8
//                               columns (index_ld 1024), contiguous data
//   view_shard342/<isa>         rows of 342 of 1026 (3 tensor-parallel ranks)    8
// The defaults (simdrop_params_default: Philox, 16-bit thresholds since 0.2.0), keep_prob
// 0.9, no mask output unless said, a fresh stream per
// iteration. The GB/s counter counts the bytes each call really moves, so
// dividing it by the copy roof of the same n and thread count (copy/* rows,
// 8 bytes/element) gives the fraction of the roof.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.hpp"

namespace {

constexpr uint64_t seed = 0x5eed5eedULL;
constexpr int threads = 1;
const size_t row_sizes[] = {size_t(32) << 10, size_t(4) << 20, size_t(64) << 20};

// Buffers the shared ones lack, written once (first touch outside timing),
// one set per size.
struct extra_buffers {
  std::vector<double> x64, y64;
  std::vector<uint16_t> x16, y16;
  std::vector<float> residual, bias, x2d, y2d;
  std::vector<uint8_t> mask2d;
};

extra_buffers& extra_for(size_t n) {
  static std::map<size_t, std::unique_ptr<extra_buffers>> cache;
  std::unique_ptr<extra_buffers>& slot = cache[n];
  if (!slot) {
    slot = std::make_unique<extra_buffers>();
    slot->x64.assign(n, 1.25);
    slot->y64.assign(n, 0.0);
    slot->x16.assign(n, 0x3E00);  // 1.5 as f16 (as bf16 a small positive number: fine for timing)
    slot->y16.assign(n, 0);
    slot->residual.assign(n, 0.5f);
    slot->bias.assign(1024, 0.125f);
    slot->x2d.assign(n / 1024 * 1088, 1.5f);
    slot->y2d.assign(n / 1024 * 1088, 0.0f);
    slot->mask2d.assign(n / 1024 * 136, 0);
  }
  return *slot;
}

template <class Call>
void time_calls(benchmark::State& state, Call call) {
  simdrop_params p = simdrop_params_default(simdrop_bench::keep_prob, seed);
  for (auto _ : state) {
    ++p.stream;
    const int status = call(p);
    if (status != SIMDROP_OK) {
      state.SkipWithError(simdrop_status_string(status));
      break;
    }
    benchmark::ClobberMemory();
  }
}

using call_fn = int (*)(size_t n, const simdrop_params& p);

void add(const std::string& call, const std::string& isa, size_t n, double bytes_per_element, call_fn fn) {
  simdrop_bench::add_row(call + "/" + isa, n, threads, bytes_per_element, [=](benchmark::State& state) {
    simdrop_bench::buffers_for(n);  // the shared x, y of this size exist
    extra_for(n);
    if (!simdrop_bench::use_simdrop(state, isa.c_str(), threads)) return;
    time_calls(state, [&](const simdrop_params& p) { return fn(n, p); });
  });
}

void register_extensions(const simdrop_bench::config& cfg) {
  const std::vector<std::string> isas = simdrop_bench::supported_isas();
  for (size_t n : row_sizes) {
    bool wanted = false;  // only the run's sizes, so every row has its roof
    for (size_t s : cfg.sizes) wanted = wanted || s == n;
    if (!wanted) continue;
    for (const std::string& isa : isas) {
      if (n > (size_t(4) << 20) && isa == "scalar") continue;
      add("forward_2d", isa, n, 8.0, [](size_t n, const simdrop_params& p) {
        extra_buffers& e = extra_for(n);
        return simdrop_forward_2d_f32(e.x2d.data(), 1088, e.y2d.data(), 1088, n / 1024, 1024, &p, nullptr, 0);
      });
      add("forward_2d_offset3", isa, n, 8.0, [](size_t n, const simdrop_params& p) {
        extra_buffers& e = extra_for(n);
        simdrop_params at3 = p;
        at3.offset = 3;
        return simdrop_forward_2d_f32(e.x2d.data(), 1088, e.y2d.data(), 1088, n / 1024, 1024, &at3, nullptr, 0);
      });
      add("forward_2d_mask", isa, n, 8.125, [](size_t n, const simdrop_params& p) {
        extra_buffers& e = extra_for(n);
        return simdrop_forward_2d_f32(e.x2d.data(), 1088, e.y2d.data(), 1088, n / 1024, 1024, &p, e.mask2d.data(),
                                      136);
      });
      add("backward_2d", isa, n, 8.0, [](size_t n, const simdrop_params& p) {
        extra_buffers& e = extra_for(n);
        return simdrop_backward_2d_f32(e.x2d.data(), 1088, e.y2d.data(), 1088, n / 1024, 1024, &p);
      });
      add("channels_first", isa, n, 8.0, [](size_t n, const simdrop_params& p) {
        simdrop_bench::buffers& b = simdrop_bench::buffers_for(n);
        const size_t batch = 16, channels = 256;
        return simdrop_forward_channels_f32(b.x, b.y, batch, channels, n / (batch * channels), 0, &p, nullptr);
      });
      add("channels_last", isa, n, 8.0, [](size_t n, const simdrop_params& p) {
        simdrop_bench::buffers& b = simdrop_bench::buffers_for(n);
        const size_t batch = 16, channels = 256;
        return simdrop_forward_channels_f32(b.x, b.y, batch, channels, n / (batch * channels), 1, &p, nullptr);
      });
      add("bias_dropout_add", isa, n, 12.0, [](size_t n, const simdrop_params& p) {
        simdrop_bench::buffers& b = simdrop_bench::buffers_for(n);
        extra_buffers& e = extra_for(n);
        return simdrop_bias_dropout_add_f32(b.x, e.bias.data(), e.residual.data(), b.y, n / 1024, 1024, &p, nullptr);
      });
      add("bias_dropout_add_offset3", isa, n, 12.0, [](size_t n, const simdrop_params& p) {
        simdrop_bench::buffers& b = simdrop_bench::buffers_for(n);
        extra_buffers& e = extra_for(n);
        simdrop_params at3 = p;
        at3.offset = 3;
        return simdrop_bias_dropout_add_f32(b.x, e.bias.data(), e.residual.data(), b.y, n / 1024, 1024, &at3,
                                            nullptr);
      });
      add("forward_f64", isa, n, 16.0, [](size_t n, const simdrop_params& p) {
        extra_buffers& e = extra_for(n);
        return simdrop_forward_f64(e.x64.data(), e.y64.data(), n, &p, nullptr);
      });
      add("forward_bf16", isa, n, 4.0, [](size_t n, const simdrop_params& p) {
        extra_buffers& e = extra_for(n);
        return simdrop_forward_bf16(e.x16.data(), e.y16.data(), n, &p, nullptr);
      });
      add("forward_f16", isa, n, 4.0, [](size_t n, const simdrop_params& p) {
        extra_buffers& e = extra_for(n);
        return simdrop_forward_f16(e.x16.data(), e.y16.data(), n, &p, nullptr);
      });
      add("backward_f64", isa, n, 16.0, [](size_t n, const simdrop_params& p) {
        extra_buffers& e = extra_for(n);
        return simdrop_backward_f64(e.x64.data(), e.y64.data(), n, &p);
      });
      add("backward_bf16", isa, n, 4.0, [](size_t n, const simdrop_params& p) {
        extra_buffers& e = extra_for(n);
        return simdrop_backward_bf16(e.x16.data(), e.y16.data(), n, &p);
      });
      add("backward_f16", isa, n, 4.0, [](size_t n, const simdrop_params& p) {
        extra_buffers& e = extra_for(n);
        return simdrop_backward_f16(e.x16.data(), e.y16.data(), n, &p);
      });
      add("view_shard512", isa, n, 8.0, [](size_t n, const simdrop_params& p) {
        simdrop_bench::buffers& b = simdrop_bench::buffers_for(n);
        return simdrop_forward_view_f32(b.x, 512, b.y, 512, n / 512, 512, 1024, &p, nullptr, 0);
      });
      add("view_shard342", isa, n, 8.0, [](size_t n, const simdrop_params& p) {
        simdrop_bench::buffers& b = simdrop_bench::buffers_for(n);
        return simdrop_forward_view_f32(b.x, 342, b.y, 342, n / 342, 342, 1026, &p, nullptr, 0);
      });
    }
  }
}

}  // namespace

SIMDROP_BENCH_REGISTRAR(60, register_extensions);
