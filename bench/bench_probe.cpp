// A probe of the machine rather than of simdrop, kept because a kernel design
// choice rests on it (docs/kernels.md): on AVX-512, is a masked
// (fault-suppressing) memory operand slower than a plain load when the data
// comes from memory? Both rows read n floats and multiply them under an
// all-ones opmask known only at run time; they differ only in where the load
// is:
//   probe/load_masked/avx512   vmulps zmm{k}{z}, zmm, [x]   (the load folded)
//   probe/load_plain/avx512    vmovups zmm, [x]; vmulps zmm{k}{z}, zmm, zmm
// at 32K (in cache) and 64M floats (from memory), when the run has those
// sizes and the CPU runs the avx512 implementation. 4 bytes per element (read).
#include <string>

#include "bench_common.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

namespace {

template <bool Plain>
__attribute__((target("avx512f"), noinline)) float masked_sum(const float* x, size_t n, __mmask16 k, float scale) {
  const __m512 s = _mm512_set1_ps(scale);
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  for (size_t i = 0; i + 64 <= n; i += 64)
    for (int j = 0; j < 4; ++j) {
      __m512 v = _mm512_loadu_ps(x + i + 16 * j);
      if constexpr (Plain) asm("" : "+v"(v));  // keeps the load out of the masked multiply
      acc[j] = _mm512_add_ps(acc[j], _mm512_maskz_mul_ps(k, v, s));
    }
  float lanes[16];  // not _mm512_reduce_add_ps: g++ 12 warns falsely inside it
  _mm512_storeu_ps(lanes, _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
  float sum = 0.0f;
  for (float v : lanes) sum += v;
  return sum;
}

void register_probe(const simdrop_bench::config& cfg) {
  if (!simdrop_isa_supported("avx512")) return;
  for (size_t n : cfg.sizes) {
    if (n != (size_t(32) << 10) && n != (size_t(64) << 20)) continue;
    for (bool plain : {false, true}) {
      const std::string name = plain ? "probe/load_plain/avx512" : "probe/load_masked/avx512";
      simdrop_bench::add_row(name, n, 1, 4.0, [=](benchmark::State& state) {
        const float* x = simdrop_bench::buffers_for(n).x;
        volatile unsigned all = 0xFFFF;  // an opmask and a scale the compiler cannot see
        volatile float one = 1.0f;
        const __mmask16 k = __mmask16(all);
        const float s = one;
        for (auto _ : state)
          benchmark::DoNotOptimize(plain ? masked_sum<true>(x, n, k, s) : masked_sum<false>(x, n, k, s));
      });
    }
  }
}

}  // namespace

SIMDROP_BENCH_REGISTRAR(90, register_probe);
#endif
