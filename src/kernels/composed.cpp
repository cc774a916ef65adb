// Entries composed from an implementation's decisions and apply loops (see
// composed.hpp). Every result depends only on global indices: chunks end where
// the global index reaches a multiple of the chunk size, so no cut changes a
// bit.
#include "kernels/composed.hpp"

#include <algorithm>
#include <cstring>

#include "kernels/keep_bits.hpp"
#include "rng/stream.hpp"

namespace simdrop::detail {
namespace {

// Decisions computed per `mask` call: one xoshiro tile's worth (a multiple of
// a Philox group), so that chunks that start on a tile boundary never
// regenerate words.
size_t decision_chunk(const job& j) { return rng::xoshiro_tile_words * (32 / j.threshold_bits); }
constexpr size_t max_chunk = size_t(rng::xoshiro_tile_words) * 4;  // the narrowest threshold: 8 bits

// Room for one chunk of bits plus the bytes the apply loops may read beyond.
struct decision_bits {
  alignas(64) uint8_t bytes[max_chunk / 8 + 8] = {};
};

// Calls f(c0, c1, bits) for consecutive chunks covering [begin, end) of the
// call, where bits holds the decisions of elements c0 .. c1 - 1 (bit 0 =
// element c0). Chunks end where the global index reaches a multiple of the
// chunk size (rounded up so that every chunk starts a multiple of 8 elements
// after `begin`, which keeps copies into a caller's mask whole bytes).
template <class F>
void for_each_decision_chunk(const decision_kernels& k, const job& j, size_t begin, size_t end, F&& f) {
  const size_t chunk = decision_chunk(j);
  decision_bits bits;
  for (size_t c0 = begin; c0 < end;) {
    const uint64_t g = j.offset + c0;  // c0 < end: no wrap
    const size_t step = size_t((chunk - g % chunk + 7) / 8 * 8);  // in [8, chunk]
    const size_t c1 = end - c0 <= step ? end : c0 + step;
    job part = j;
    part.offset = g;
    k.mask(part, bits.bytes, 0, c1 - c0);  // c1 - c0 is the "call" end: unused bits are 0
    f(c0, c1, static_cast<const uint8_t*>(bits.bytes));
    c0 = c1;
  }
}

// The same, copying each chunk's bits into the caller's mask when there is one
// (begin a multiple of 8).
template <class Apply>
void apply_chunks(const decision_kernels& k, const job& j, size_t begin, size_t end, uint8_t* mask, Apply&& apply) {
  for_each_decision_chunk(k, j, begin, end, [&](size_t c0, size_t c1, const uint8_t* bits) {
    if (mask) std::memcpy(mask + c0 / 8, bits, (c1 - c0 + 7) / 8);
    apply(c0, c1, bits);
  });
}

}  // namespace

void forward_f32_chunked(const job& j, const decision_kernels& k, const float* x, float* y, uint8_t* mask,
                         size_t begin, size_t end) {
  apply_chunks(k, j, begin, end, mask, [&](size_t c0, size_t c1, const uint8_t* bits) {
    k.loops->scale_f32(x + c0, y + c0, bits, 0, c1 - c0, j.scale);
  });
}

void forward_f64_chunked(const job& j, const decision_kernels& k, const double* x, double* y, uint8_t* mask,
                         size_t begin, size_t end) {
  const double s = j.scale64;
  apply_chunks(k, j, begin, end, mask, [&](size_t c0, size_t c1, const uint8_t* bits) {
    k.loops->scale_f64(x + c0, y + c0, bits, c1 - c0, s);
  });
}

void forward_bf16_chunked(const job& j, const decision_kernels& k, const uint16_t* x, uint16_t* y, uint8_t* mask,
                          size_t begin, size_t end) {
  apply_chunks(k, j, begin, end, mask, [&](size_t c0, size_t c1, const uint8_t* bits) {
    k.loops->scale_bf16(x + c0, y + c0, bits, c1 - c0, j.scale);
  });
}

void forward_f16_chunked(const job& j, const decision_kernels& k, const uint16_t* x, uint16_t* y, uint8_t* mask,
                         size_t begin, size_t end) {
  apply_chunks(k, j, begin, end, mask, [&](size_t c0, size_t c1, const uint8_t* bits) {
    k.loops->scale_f16(x + c0, y + c0, bits, c1 - c0, j.scale);
  });
}

void bias_dropout_add_f32_chunked(const job& j, const decision_kernels& k, const fused_view& v, size_t begin,
                                  size_t end) {
  const size_t cols = v.cols;
  apply_chunks(k, j, begin, end, v.mask, [&](size_t c0, size_t c1, const uint8_t* bits) {
    // Cut the chunk at row ends so that the bias is contiguous in each piece.
    for (size_t i = c0; i < c1;) {
      const size_t c = i % cols, len = std::min(c1 - i, cols - c);
      k.loops->bias_dropout_add(v.x + i, v.bias + c, v.residual + i, v.y + i, bits, i - c0, len, j.scale);
      i += len;
    }
  });
}

namespace {

// The keep bits of elements i .. i + n - 1 of a channels-first call, as
// little-endian 64-bit words (bit e % 64 of word e / 64 is bit e % 8 of byte
// e / 8 on the CPUs this library runs on): element e takes decision e /
// spatial, bit e / spatial - c0 of `bits`. Words are built in a register, a
// run of equal bits at a time; ceil(n / 64) words are written.
void spread_decisions(const uint8_t* bits, size_t c0, size_t spatial, size_t i, size_t n, uint64_t* out) {
  uint64_t word = 0;
  size_t filled = 0;
  // Appends `run` copies of the bit in `ones` (all ones or zero).
  const auto append = [&](uint64_t ones, size_t run) {
    while (run != 0) {
      const size_t take = std::min(run, 64 - filled);
      const uint64_t low = take == 64 ? ~uint64_t(0) : (uint64_t(1) << take) - 1;
      word |= (ones & low) << filled;
      filled += take;
      run -= take;
      if (filled == 64) *out++ = word, word = 0, filled = 0;
    }
  };
  const auto ones_of = [&](size_t d) { return uint64_t(0) - uint64_t(bit_at(bits, d - c0)); };
  size_t d = i / spatial, left = n;
  const size_t first = std::min(n, (d + 1) * spatial - i);  // the rest of the first decision's run
  append(ones_of(d++), first);
  left -= first;
  if (spatial < 64) {  // whole runs: most fit in the current word
    const uint64_t low = (uint64_t(1) << spatial) - 1;
    for (; left >= spatial; left -= spatial, ++d) {
      const uint64_t ones = ones_of(d);
      if (filled + spatial < 64) {
        word |= (ones & low) << filled;
        filled += spatial;
      } else {
        append(ones, spatial);
      }
    }
  }
  for (; left != 0; ++d) {
    const size_t run = std::min(spatial, left);
    append(ones_of(d), run);
    left -= run;
  }
  if (filled != 0) *out = word;
}

constexpr size_t block = 4096;     // elements per spread: 512 bytes of keep bits, next to the data in L1
constexpr size_t long_run = 1024;  // from here on a decision's run is applied on its own

struct all_ones_bits {
  uint8_t bytes[block / 8 + 8];
  constexpr all_ones_bits() : bytes() {
    for (uint8_t& byte : bytes) byte = 0xFF;
  }
};

// NCHW-like: element e belongs to decision e / spatial; parts are elements.
// Each decision chunk's bits are spread over their elements' keep bits, a
// block of elements at a time, which the implementation's own scale loop
// applies: one vector per 8 or 16 elements whatever `spatial` is, instead of
// a loop (and its tail) per decision. Runs of `long_run` elements and more
// are applied one by one (a dropped run is a fill; x is not read).
void channels_first(const job& j, const decision_kernels& k, const channels_view& v, size_t e0, size_t e1) {
  const float s = j.scale;
  const size_t spatial = v.spatial;
  const size_t d0 = e0 / spatial, d1 = (e1 - 1) / spatial + 1;
  for_each_decision_chunk(k, j, d0, d1, [&](size_t c0, size_t c1, const uint8_t* bits) {
    const size_t b = std::max(e0, c0 * spatial), e = std::min(e1, c1 * spatial);
    if (spatial == 1) {  // one element per decision: the bits are the elements'
      k.loops->scale_f32(v.x + b, v.y + b, bits, 0, e - b, s);
      return;
    }
    if (spatial >= long_run) {  // runs long enough to take one by one: a dropped one is a fill
      static constexpr all_ones_bits all_kept{};
      for (size_t d = c0; d < c1; ++d) {
        const size_t r0 = std::max(b, d * spatial), r1 = std::min(e, (d + 1) * spatial);
        if (!bit_at(bits, d - c0)) {
          std::fill(v.y + r0, v.y + r1, 0.0f);
          continue;
        }
        for (size_t i = r0; i < r1; i += block)
          k.loops->scale_f32(v.x + i, v.y + i, all_kept.bytes, 0, std::min(block, r1 - i), s);
      }
      return;
    }
    uint64_t words[block / 64 + 1];  // + 1: the loops may read 3 bytes past the last bit
    for (size_t i = b; i < e; i += block) {
      const size_t n = std::min(block, e - i);
      words[n / 64] = 0;
      spread_decisions(bits, c0, spatial, i, n, words);
      k.loops->scale_f32(v.x + i, v.y + i, reinterpret_cast<const uint8_t*>(words), 0, n, s);
    }
  });
}

// NHWC-like: parts are rows; row n*spatial + s uses decisions n*channels ..
// n*channels + channels - 1. Rows of a few channels are handled as a repeating
// pattern over the contiguous run of rows of one sample; longer rows one by
// one with the scale loop.
void channels_last(const job& j, const decision_kernels& k, const channels_view& v, size_t r0, size_t r1) {
  constexpr size_t pattern_max = 2048, short_row = 256;
  const float s = j.scale;
  const size_t channels = v.channels, spatial = v.spatial;
  uint32_t keep[pattern_max];
  for (size_t r = r0; r < r1;) {
    const size_t sample = r / spatial, s0 = r % spatial;
    const size_t s1 = std::min(spatial, s0 + (r1 - r));
    const size_t first_decision = sample * channels;
    if (channels < short_row) {
      // The sample's decisions, repeated `copies` times: as many as this part
      // of the sample has rows, up to the pattern's size.
      for_each_decision_chunk(k, j, first_decision, first_decision + channels,
                              [&](size_t c0, size_t c1, const uint8_t* bits) {
                                expand_bits(bits, c1 - c0, keep + (c0 - first_decision));
                              });
      const size_t copies = std::min(pattern_max / channels, s1 - s0), period = copies * channels;
      for (size_t c = 1; c < copies; ++c) std::copy(keep, keep + channels, keep + c * channels);
      const size_t base = (sample * spatial + s0) * channels, count = (s1 - s0) * channels;
      for (size_t b = 0; b < count; b += period) {
        const size_t m = std::min(period, count - b);
        const float* xb = v.x + base + b;
        float* yb = v.y + base + b;
        for (size_t i = 0; i < m; ++i) {
          float product = xb[i] * s;
          uint32_t u;
          std::memcpy(&u, &product, sizeof u);
          u &= keep[i];
          std::memcpy(&yb[i], &u, sizeof u);
        }
      }
    } else {
      for_each_decision_chunk(k, j, first_decision, first_decision + channels,
                              [&](size_t c0, size_t c1, const uint8_t* bits) {
                                const size_t c = c0 - first_decision;
                                for (size_t sp = s0; sp < s1; ++sp) {
                                  const size_t at = (sample * spatial + sp) * channels + c;
                                  k.loops->scale_f32(v.x + at, v.y + at, bits, 0, c1 - c0, s);
                                }
                              });
    }
    r += s1 - s0;
  }
}

}  // namespace

void forward_channels_f32_chunked(const job& j, const decision_kernels& k, const channels_view& v, size_t begin,
                                  size_t end) {
  if (begin >= end) return;
  if (v.channels_last)
    channels_last(j, k, v, begin, end);
  else
    channels_first(j, k, v, begin, end);
}

namespace {

template <class T>
T* row_of(T* p, size_t r, size_t ld) {
  return p ? p + r * ld : nullptr;
}

// The composed view (see composed.hpp). forward(job, x, y, mask, c0, c1) is the
// 1-D entry on one row (or on a contiguous view's range); apply(r, bits,
// first_bit) applies row r's cols decisions, which start at bit first_bit of
// bits, and writes its mask row.
template <class T, class Forward, class Apply>
void view_composed(const job& j, const decision_kernels& k, const view_2d<T>& v, const tile& t, Forward&& forward,
                   Apply&& apply) {
  const size_t cols = v.cols;
  if (v.contiguous()) {  // exactly the 1-D call
    forward(j, v.x, v.y, v.mask, t.row_begin * cols + t.col_begin, (t.row_end - 1) * cols + t.col_end);
    return;
  }
  // Short rows: one kernel call per row would regenerate a Philox group or
  // replay a xoshiro tile for every row; one `mask` call serves a block of
  // rows instead, gaps between their indices included. (A tile of several
  // rows has all the columns; a one-row tile goes row by row, below.)
  const size_t chunk = decision_chunk(j);
  const bool gaps_are_free = v.index_ld == cols || j.generator == SIMDROP_XOSHIRO128PP;
  const size_t rows_per_block = gaps_are_free && cols <= chunk / 4 && v.index_ld <= chunk / 2
                                    ? size_t((chunk - cols) / v.index_ld) + 1
                                    : 1;
  if (t.row_end - t.row_begin > 1 && rows_per_block > 1) {
    decision_bits bits;
    for (size_t rb = t.row_begin; rb < t.row_end; rb += rows_per_block) {
      const size_t re = std::min(t.row_end, rb + rows_per_block);
      job block = j;
      block.offset = j.offset + uint64_t(rb) * v.index_ld;
      k.mask(block, bits.bytes, 0, size_t((re - rb - 1) * v.index_ld) + cols);
      for (size_t r = rb; r < re; ++r) apply(r, static_cast<const uint8_t*>(bits.bytes), size_t((r - rb) * v.index_ld));
    }
    return;
  }
  for (size_t r = t.row_begin; r < t.row_end; ++r) {
    job row = j;
    row.offset = j.offset + uint64_t(r) * v.index_ld;
    forward(row, row_of(v.x, r, v.ldx), row_of(v.y, r, v.ldy), row_of(v.mask, r, v.ldmask), t.col_begin,
            t.col_end);
  }
}

// A view of element type T whose apply loop reads keep bits from bit 0:
// each row's bits are first moved there.
template <class T, class Scale>
void view_from_bit0(const job& j, const decision_kernels& k, const view_2d<T>& v, const tile& t,
                    void (*forward)(const job&, const T*, T*, uint8_t*, size_t, size_t), Scale&& scale) {
  view_composed(j, k, v, t, forward, [&](size_t r, const uint8_t* bits, size_t first_bit) {
    decision_bits row_bits;
    copy_bits(bits, first_bit, v.cols, row_bits.bytes);
    scale(v.x + r * v.ldx, v.y + r * v.ldy, row_bits.bytes, v.cols);
    if (v.mask) std::memcpy(v.mask + r * v.ldmask, row_bits.bytes, rng::mask_bytes(v.cols));
  });
}

}  // namespace

void forward_view_f32_composed(const job& j, const decision_kernels& k, const view_2d<float>& v, const tile& t) {
  view_composed(j, k, v, t, k.forward_f32, [&](size_t r, const uint8_t* bits, size_t first_bit) {
    k.loops->scale_f32(v.x + r * v.ldx, v.y + r * v.ldy, bits, first_bit, v.cols, j.scale);
    if (v.mask) copy_bits(bits, first_bit, v.cols, v.mask + r * v.ldmask);
  });
}

void forward_view_f64_composed(const job& j, const decision_kernels& k, const view_2d<double>& v, const tile& t) {
  view_from_bit0(j, k, v, t, k.forward_f64, [&](const double* x, double* y, const uint8_t* bits, size_t n) {
    k.loops->scale_f64(x, y, bits, n, j.scale64);
  });
}

void forward_view_bf16_composed(const job& j, const decision_kernels& k, const view_2d<uint16_t>& v,
                                const tile& t) {
  view_from_bit0(j, k, v, t, k.forward_bf16, [&](const uint16_t* x, uint16_t* y, const uint8_t* bits, size_t n) {
    k.loops->scale_bf16(x, y, bits, n, j.scale);
  });
}

void forward_view_f16_composed(const job& j, const decision_kernels& k, const view_2d<uint16_t>& v,
                               const tile& t) {
  view_from_bit0(j, k, v, t, k.forward_f16, [&](const uint16_t* x, uint16_t* y, const uint8_t* bits, size_t n) {
    k.loops->scale_f16(x, y, bits, n, j.scale);
  });
}

void mask_view_composed(const job& j, const decision_kernels& k, const view_2d<float>& v, const tile& t) {
  auto mask_rows = [&](const job& row, const float*, float*, uint8_t* mask, size_t c0, size_t c1) {
    k.mask(row, mask, c0, c1);
  };
  view_composed(j, k, v, t, mask_rows, [&](size_t r, const uint8_t* bits, size_t first_bit) {
    copy_bits(bits, first_bit, v.cols, v.mask + r * v.ldmask);
  });
}

}  // namespace simdrop::detail
