// The driver of scripts/count_instructions.sh: makes `calls` calls of one data
// call on one implementation, one thread, so that valgrind's callgrind can
// count the instructions per element as the difference of two call counts
// (which cancels start-up and first-call work). Not a benchmark: no timing.
//
// Usage: simdrop_instruction_driver <isa> <generator> <bits> <n> <calls> [call]
//   generator: philox | xoshiro; bits: 16 | 32; call: forward (default),
//   forward_mask, mask, backward_mask, fill, f16, bf16, f64, 2d, bias, shard512
//   (rows of 512 of a 1024-column tensor, index_ld 1024).
// keep_prob 0.9, seed 42, a new stream per call, offset 0. Exits 2 on bad
// arguments, 1 when a call fails.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "simdrop/simdrop.h"

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s <isa> <philox|xoshiro> <bits> <n> <calls> [call]\n", argv[0]);
    return 2;
  }
  const std::string isa = argv[1], generator = argv[2], call = argc > 6 ? argv[6] : "forward";
  const unsigned bits = unsigned(std::strtoul(argv[3], nullptr, 10));
  const size_t n = std::strtoull(argv[4], nullptr, 10);
  const int calls = std::atoi(argv[5]);
  if (simdrop_set_isa(isa.c_str()) != SIMDROP_OK || simdrop_set_num_threads(1) != SIMDROP_OK) {
    std::fprintf(stderr, "cannot use implementation %s\n", isa.c_str());
    return 2;
  }
  simdrop_params p = simdrop_params_default(0.9f, 42);
  p.generator = generator == "xoshiro" ? SIMDROP_XOSHIRO128PP : SIMDROP_PHILOX4X32_10;
  p.threshold_bits = bits;
  std::vector<float> x(n, 1.5f), y(n), bias(1024, 0.25f);
  std::vector<double> xd(n, 1.5), yd(n);
  std::vector<uint16_t> xh(n, 0x3C00), yh(n);
  std::vector<uint8_t> mask(n / 8 + 1, 0xA5);
  std::vector<uint32_t> words(n);
  for (int c = 0; c < calls; ++c) {
    p.stream = uint64_t(c);
    int status = SIMDROP_OK;
    if (call == "forward") status = simdrop_forward_f32(x.data(), y.data(), n, &p, nullptr);
    else if (call == "forward_mask") status = simdrop_forward_f32(x.data(), y.data(), n, &p, mask.data());
    else if (call == "mask") status = simdrop_mask(mask.data(), n, &p);
    else if (call == "backward_mask") status = simdrop_backward_mask_f32(x.data(), mask.data(), y.data(), n, &p);
    else if (call == "fill") status = simdrop_fill_u32(words.data(), n, &p);
    else if (call == "f16") status = simdrop_forward_f16(xh.data(), yh.data(), n, &p, nullptr);
    else if (call == "bf16") status = simdrop_forward_bf16(xh.data(), yh.data(), n, &p, nullptr);
    else if (call == "f64") status = simdrop_forward_f64(xd.data(), yd.data(), n, &p, nullptr);
    else if (call == "2d") status = simdrop_forward_2d_f32(x.data(), 1024, y.data(), 1024, n / 1024, 1000, &p, nullptr, 0);
    else if (call == "shard512")
      status = simdrop_forward_view_f32(x.data(), 512, y.data(), 512, n / 512, 512, 1024, &p, nullptr, 0);
    else if (call == "bias")
      status = simdrop_bias_dropout_add_f32(x.data(), bias.data(), x.data(), y.data(), n / 1024, 1024, &p, nullptr);
    else {
      std::fprintf(stderr, "unknown call %s\n", call.c_str());
      return 2;
    }
    if (status != SIMDROP_OK) {
      std::fprintf(stderr, "%s failed: %s\n", call.c_str(), simdrop_status_string(status));
      return 1;
    }
  }
  return 0;
}
