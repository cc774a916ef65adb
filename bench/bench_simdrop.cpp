// simdrop's own rows: every implementation this build has and this CPU runs
// (asked at run time, scalar included), forced one at a time with
// simdrop_set_isa, times both generators and both threshold widths.
//   forward/<isa>/<generator>/<bits>bit        forward_f32, mask NULL: all sizes and thread counts
//   forward_mask/<isa>/<generator>/32bit       forward_f32 with the mask output  } at the extra
//   forward_mask_offset3/<isa>/<generator>/32bit  the same with offset 3: mask   } sizes, one
//                                              bits packed in order, not in place } thread
//   forward_y16/<isa>/<generator>/32bit        forward_f32 with x and y 16 bytes    }
//                                              past a 64-byte boundary (numpy's     }
//                                              alignment), n - 16 elements           }
//   backward_mask/<isa>                        backward_mask_f32 from a stored mask }
//   fill_u32/<isa>/<generator>                 the raw word stream                  }
// keep_prob is 0.9 everywhere. Each iteration uses a new stream, as each
// training step draws a new mask; changing it costs nothing.
// Bytes per element for GB/s: forward 8 (read 4, write 4); with a mask, and
// backward from a mask, 8.125 (plus one mask bit); fill_u32 4 (write only).
#include <string>

#include "bench_common.hpp"

namespace {

constexpr uint64_t seed = 0x5eed5eedULL;

simdrop_params make_params(simdrop_generator generator, uint32_t threshold_bits) {
  simdrop_params p = simdrop_params_default(simdrop_bench::keep_prob, seed);
  p.generator = generator;
  p.threshold_bits = threshold_bits;
  return p;
}

// Runs `call(params)` once per iteration with a fresh stream; stops the row on an error.
template <class Call>
void time_calls(benchmark::State& state, simdrop_params p, Call call) {
  uint64_t stream = 0;
  for (auto _ : state) {
    p.stream = ++stream;
    const int status = call(p);
    if (status != SIMDROP_OK) {
      state.SkipWithError(simdrop_status_string(status));
      break;
    }
    benchmark::ClobberMemory();
  }
}

const simdrop_generator generators[] = {SIMDROP_PHILOX4X32_10, SIMDROP_XOSHIRO128PP};
const uint32_t widths[] = {32, 16, 8};

void register_forward(const simdrop_bench::config& cfg) {
  const std::vector<std::string> isas = simdrop_bench::supported_isas();
  for (size_t n : cfg.sizes)
    for (int threads : cfg.threads)
      for (const std::string& isa : isas)
        for (simdrop_generator g : generators)
          for (uint32_t bits : widths) {
            const std::string name = "forward/" + isa + "/" + simdrop_bench::generator_name(g) + "/" +
                                     std::to_string(bits) + "bit";
            simdrop_bench::add_row(name, n, threads, 8.0, [=](benchmark::State& state) {
              simdrop_bench::buffers& b = simdrop_bench::buffers_for(n);
              if (!simdrop_bench::use_simdrop(state, isa.c_str(), threads)) return;
              time_calls(state, make_params(g, bits), [&](const simdrop_params& p) {
                return simdrop_forward_f32(b.x, b.y, n, &p, nullptr);
              });
            });
          }
}

void register_extra(const simdrop_bench::config& cfg) {
  const std::vector<std::string> isas = simdrop_bench::supported_isas();
  constexpr int threads = 1;
  for (size_t n : cfg.extra_sizes)
    for (const std::string& isa : isas) {
      for (simdrop_generator g : generators) {
        const std::string gen = simdrop_bench::generator_name(g);
        // Offset 0 writes the mask bytes in place; an offset that is not a
        // multiple of 8 (a call continuing a split tensor) packs them in order.
        for (const uint64_t offset : {uint64_t(0), uint64_t(3)}) {
          const std::string row = offset == 0 ? "forward_mask/" : "forward_mask_offset3/";
          simdrop_bench::add_row(row + isa + "/" + gen + "/32bit", n, threads, 8.125, [=](benchmark::State& state) {
            simdrop_bench::buffers& b = simdrop_bench::buffers_for(n);
            if (!simdrop_bench::use_simdrop(state, isa.c_str(), threads)) return;
            simdrop_params params = make_params(g, 32);
            params.offset = offset;
            time_calls(state, params,
                       [&](const simdrop_params& p) { return simdrop_forward_f32(b.x, b.y, n, &p, b.mask); });
          });
        }
        simdrop_bench::add_row("forward_y16/" + isa + "/" + gen + "/32bit", n, threads, 8.0,
                               [=](benchmark::State& state) {
                                 simdrop_bench::buffers& b = simdrop_bench::buffers_for(n);
                                 if (!simdrop_bench::use_simdrop(state, isa.c_str(), threads)) return;
                                 time_calls(state, make_params(g, 32), [&](const simdrop_params& p) {
                                   return simdrop_forward_f32(b.x + 4, b.y + 4, n - 16, &p, nullptr);
                                 });
                               });
        simdrop_bench::add_row("fill_u32/" + isa + "/" + gen, n, threads, 4.0, [=](benchmark::State& state) {
          simdrop_bench::buffers& b = simdrop_bench::buffers_for(n);
          if (!simdrop_bench::use_simdrop(state, isa.c_str(), threads)) return;
          uint32_t* words = reinterpret_cast<uint32_t*>(b.y);
          time_calls(state, make_params(g, 32),
                     [&](const simdrop_params& p) { return simdrop_fill_u32(words, n, &p); });
        });
      }
      simdrop_bench::add_row("backward_mask/" + isa, n, threads, 8.125, [=](benchmark::State& state) {
        simdrop_bench::buffers& b = simdrop_bench::buffers_for(n);
        if (!simdrop_bench::use_simdrop(state, isa.c_str(), threads)) return;
        const simdrop_params forward = make_params(SIMDROP_PHILOX4X32_10, 32);
        if (const int status = simdrop_mask(b.mask, n, &forward); status != SIMDROP_OK) {
          state.SkipWithError(simdrop_status_string(status));
          return;
        }
        time_calls(state, forward, [&](const simdrop_params& p) {
          return simdrop_backward_mask_f32(b.x, b.mask, b.y, n, &p);
        });
      });
    }
}

}  // namespace

SIMDROP_BENCH_REGISTRAR(20, register_forward);
SIMDROP_BENCH_REGISTRAR(30, register_extra);
