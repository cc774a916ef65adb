// The copy roof of `simdrop bench`, defined as the benchmark suite defines it
// (bench/bench_roof.cpp, bench_common.hpp): the faster of two copies of the
// call's n floats, std::memcpy and a loop of streaming (non-temporal) stores,
// split into one contiguous chunk per OpenMP thread as simdrop splits a call,
// in GB/s at 8 bytes per element (read 4, write 4). It is timed right after
// each repetition of a call, so a call is compared with the roof of the same
// minute on a shared machine.
#pragma once

#include <cstddef>

namespace simdrop_cli {

// Copies src to dst (n floats) with each method for about seconds / 2 (at
// least three copies each) and returns the faster one's GB/s.
double paired_copy_gbps(const float* src, float* dst, size_t n, int threads, double seconds);

}  // namespace simdrop_cli
