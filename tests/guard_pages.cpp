// Every public data call with each of its buffers flush against an
// inaccessible page (issue 15): just after its end, or just before its start.
//
// A read or write one byte outside a buffer faults, instead of landing in
// memory the test could only compare afterwards. The sweep covers global
// offsets 2^64 - k (k = 1..70, where every rounding of an index up to the next
// register, group or tile wraps if it is written naively) and a few low and
// mid-range ones, sizes 1..70, every threshold width (with the generators in
// turn), every
// implementation this CPU can run, and 1 and 3 threads (the per-thread
// minimum is lowered so that 3 threads really split calls this small). Every
// output is compared byte for byte with the same call on the scalar
// implementation with one thread, on ordinary heap buffers.
//
// A fault must not end the run: each (implementation, threads, placement)
// group runs in a forked child, which publishes the index of the case it is
// running in shared memory. When the child dies, the parent reports that case
// as failed and starts a new child at the next one. The parent itself never
// makes a data call, so no OpenMP thread pool exists across a fork.
//
// Usage: simdrop_guard_pages [--reduced]   (--reduced: a subset, for emulators
// and sanitizers). ctest runs it with OMP_WAIT_POLICY=passive: OpenMP reads it
// when the program loads, and spinning threads, with other tests beside this
// one on a small machine, made the three-thread groups 10x slower.
// Prints every failure, then "guard_pages: N passed, M failed"; exits 1 on any failure.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "simdrop/simdrop.h"
#include "support/params.hpp"
#include "support/util.hpp"

namespace {

using simdrop_test::all_generator_widths;
using simdrop_test::generator_width;

// ---- The calls ----------------------------------------------------------------------

enum call_kind : uint8_t {
  forward_f32,
  forward_f32_mask,
  backward_f32,
  backward_mask_f32,
  mask_only,
  fill_u32,
  forward_2d,
  forward_2d_mask,
  backward_2d,
  channels_first,
  channels_first_mask,
  channels_last,
  channels_last_mask,
  bias_dropout_add,
  bias_dropout_add_mask,
  forward_f64,
  forward_f64_mask,
  backward_f64,
  forward_bf16,
  forward_bf16_mask,
  backward_bf16,
  forward_f16,
  forward_f16_mask,
  backward_f16,
  view_f32,
  view_f32_mask,
  backward_view_f32,
  view_f64,
  view_f64_mask,
  view_bf16_mask,
  view_f16,
  view_f16_mask,
  backward_view_f16,
  mask_view,
  call_kind_count
};

const char* const call_names[] = {
    "simdrop_forward_f32",          "simdrop_forward_f32 (mask)",          "simdrop_backward_f32",
    "simdrop_backward_mask_f32",    "simdrop_mask",                        "simdrop_fill_u32",
    "simdrop_forward_2d_f32",       "simdrop_forward_2d_f32 (mask)",       "simdrop_backward_2d_f32",
    "simdrop_forward_channels_f32", "simdrop_forward_channels_f32 (mask)", "simdrop_forward_channels_f32 (last)",
    "simdrop_forward_channels_f32 (last, mask)", "simdrop_bias_dropout_add_f32",
    "simdrop_bias_dropout_add_f32 (mask)", "simdrop_forward_f64", "simdrop_forward_f64 (mask)",
    "simdrop_backward_f64",         "simdrop_forward_bf16",                "simdrop_forward_bf16 (mask)",
    "simdrop_backward_bf16",        "simdrop_forward_f16",                 "simdrop_forward_f16 (mask)",
    "simdrop_backward_f16",         "simdrop_forward_view_f32",            "simdrop_forward_view_f32 (mask)",
    "simdrop_backward_view_f32",    "simdrop_forward_view_f64",            "simdrop_forward_view_f64 (mask)",
    "simdrop_forward_view_bf16 (mask)", "simdrop_forward_view_f16",        "simdrop_forward_view_f16 (mask)",
    "simdrop_backward_view_f16",    "simdrop_mask_view"};
static_assert(sizeof call_names / sizeof call_names[0] == call_kind_count, "a name per call");

// One call: its kind, parameters and shape. 1-D calls use cols as n; 2-D and
// fused calls rows x cols (ld for the 2-D data); channel calls batch = rows,
// channels = cols and spatial; view calls rows x cols with the index row
// stride in `spatial`.
struct call_case {
  call_kind kind;
  uint8_t generator_width;  // index into all_generator_widths
  uint64_t offset;
  uint32_t rows, cols, ld, spatial;
};

size_t mask_bytes(size_t bits) { return bits / 8 + (bits % 8 != 0); }

// The decisions a call makes: offset + decisions must not pass 2^64.
uint64_t decisions_of(const call_case& c) {
  switch (c.kind) {
    case channels_first: case channels_first_mask: case channels_last: case channels_last_mask:
    case forward_2d: case forward_2d_mask: case backward_2d: case bias_dropout_add: case bias_dropout_add_mask:
      return uint64_t(c.rows) * c.cols;
    case view_f32: case view_f32_mask: case backward_view_f32: case view_f64: case view_f64_mask:
    case view_bf16_mask: case view_f16: case view_f16_mask: case backward_view_f16: case mask_view:
      return uint64_t(c.rows - 1) * c.spatial + c.cols;  // the span of global indices
    default: return c.cols;
  }
}

// Elements the call's threads share (what the library's thread count rule sees).
uint64_t elements_of(const call_case& c) {
  switch (c.kind) {
    case channels_first: case channels_first_mask: case channels_last: case channels_last_mask:
      return uint64_t(c.rows) * c.cols * c.spatial;
    case view_f32: case view_f32_mask: case backward_view_f32: case view_f64: case view_f64_mask:
    case view_bf16_mask: case view_f16: case view_f16_mask: case backward_view_f16: case mask_view:
      return uint64_t(c.rows) * c.cols;
    default: return decisions_of(c);
  }
}

// Groups with several threads run the cases where threads can split the call
// (below 16 elements one thread runs it, whatever the setting: the very path
// of the one-thread groups), at sizes on both sides of 16, 32 and 64, with one
// generator per shape in turn (both threshold widths): OpenMP's fork and join,
// oversubscribed on a small machine, costs far more than such a call.
bool runs_threaded(const call_case& c) {
  static const uint32_t sizes[] = {16, 17, 24, 31, 32, 33, 40, 47, 48, 63, 64, 65, 70};
  const uint32_t n = uint32_t(elements_of(c));
  return elements_of(c) >= 16 && std::find(std::begin(sizes), std::end(sizes), n) != std::end(sizes) &&
         all_generator_widths[c.generator_width].generator == (c.cols + c.rows) % 2;
}

struct buffer_spec {
  size_t bytes;
  bool output;
  uint8_t kind;  // 0 float inputs, 1 raw bytes
};

// The buffers of a call, in the order invoke() takes them.
std::vector<buffer_spec> buffers_of(const call_case& c) {
  const size_t n = c.cols, rc = size_t(c.rows) * c.cols;
  const size_t mask_ld = mask_bytes(c.cols) + 1;
  const size_t span = c.rows == 0 ? 0 : (size_t(c.rows) - 1) * c.ld + c.cols;  // a 2-D view, in elements
  switch (c.kind) {
    case forward_f32: case backward_f32: return {{4 * n, false, 0}, {4 * n, true, 0}};
    case forward_f32_mask: return {{4 * n, false, 0}, {4 * n, true, 0}, {mask_bytes(n), true, 1}};
    case backward_mask_f32: return {{4 * n, false, 0}, {mask_bytes(n), false, 1}, {4 * n, true, 0}};
    case mask_only: return {{mask_bytes(n), true, 1}};
    case fill_u32: return {{4 * n, true, 1}};
    case forward_2d: case backward_2d: return {{4 * span, false, 0}, {4 * span, true, 0}};
    case forward_2d_mask:
      return {{4 * span, false, 0}, {4 * span, true, 0}, {(size_t(c.rows) - 1) * mask_ld + mask_bytes(c.cols), true, 1}};
    case channels_first: case channels_last: return {{4 * rc * c.spatial, false, 0}, {4 * rc * c.spatial, true, 0}};
    case channels_first_mask: case channels_last_mask:
      return {{4 * rc * c.spatial, false, 0}, {4 * rc * c.spatial, true, 0}, {mask_bytes(rc), true, 1}};
    case bias_dropout_add:
      return {{4 * rc, false, 0}, {4 * size_t(c.cols), false, 0}, {4 * rc, false, 0}, {4 * rc, true, 0}};
    case bias_dropout_add_mask:
      return {{4 * rc, false, 0}, {4 * size_t(c.cols), false, 0}, {4 * rc, false, 0}, {4 * rc, true, 0},
              {mask_bytes(rc), true, 1}};
    case forward_f64: case backward_f64: return {{8 * n, false, 1}, {8 * n, true, 1}};
    case forward_f64_mask: return {{8 * n, false, 1}, {8 * n, true, 1}, {mask_bytes(n), true, 1}};
    case forward_bf16: case backward_bf16: case forward_f16: case backward_f16:
      return {{2 * n, false, 1}, {2 * n, true, 1}};
    case forward_bf16_mask: case forward_f16_mask:
      return {{2 * n, false, 1}, {2 * n, true, 1}, {mask_bytes(n), true, 1}};
    case view_f32: case backward_view_f32: return {{4 * span, false, 0}, {4 * span, true, 0}};
    case view_f32_mask:
      return {{4 * span, false, 0}, {4 * span, true, 0}, {(size_t(c.rows) - 1) * mask_ld + mask_bytes(c.cols), true, 1}};
    case view_f64: return {{8 * span, false, 1}, {8 * span, true, 1}};
    case view_f64_mask:
      return {{8 * span, false, 1}, {8 * span, true, 1}, {(size_t(c.rows) - 1) * mask_ld + mask_bytes(c.cols), true, 1}};
    case view_f16: case backward_view_f16: return {{2 * span, false, 1}, {2 * span, true, 1}};
    case view_bf16_mask: case view_f16_mask:
      return {{2 * span, false, 1}, {2 * span, true, 1}, {(size_t(c.rows) - 1) * mask_ld + mask_bytes(c.cols), true, 1}};
    case mask_view: return {{(size_t(c.rows) - 1) * mask_ld + mask_bytes(c.cols), true, 1}};
    default: return {};
  }
}

int invoke(const call_case& c, uint8_t* const* b) {
  const generator_width& gw = all_generator_widths[c.generator_width];
  const simdrop_params p = simdrop_test::make_params(gw, 0.7f, 0x5EED0000ull + c.generator_width, 11, c.offset);
  const size_t n = c.cols;
  auto f = [&](int i) { return reinterpret_cast<float*>(b[i]); };
  auto d = [&](int i) { return reinterpret_cast<double*>(b[i]); };
  auto h = [&](int i) { return reinterpret_cast<uint16_t*>(b[i]); };
  switch (c.kind) {
    case forward_f32: return simdrop_forward_f32(f(0), f(1), n, &p, nullptr);
    case forward_f32_mask: return simdrop_forward_f32(f(0), f(1), n, &p, b[2]);
    case backward_f32: return simdrop_backward_f32(f(0), f(1), n, &p);
    case backward_mask_f32: return simdrop_backward_mask_f32(f(0), b[1], f(2), n, &p);
    case mask_only: return simdrop_mask(b[0], n, &p);
    case fill_u32: return simdrop_fill_u32(reinterpret_cast<uint32_t*>(b[0]), n, &p);
    case forward_2d: return simdrop_forward_2d_f32(f(0), c.ld, f(1), c.ld, c.rows, c.cols, &p, nullptr, 0);
    case forward_2d_mask:
      return simdrop_forward_2d_f32(f(0), c.ld, f(1), c.ld, c.rows, c.cols, &p, b[2], mask_bytes(c.cols) + 1);
    case backward_2d: return simdrop_backward_2d_f32(f(0), c.ld, f(1), c.ld, c.rows, c.cols, &p);
    case channels_first:
    case channels_last:
      return simdrop_forward_channels_f32(f(0), f(1), c.rows, c.cols, c.spatial, c.kind == channels_last, &p, nullptr);
    case channels_first_mask:
    case channels_last_mask:
      return simdrop_forward_channels_f32(f(0), f(1), c.rows, c.cols, c.spatial, c.kind == channels_last_mask, &p,
                                          b[2]);
    case bias_dropout_add: return simdrop_bias_dropout_add_f32(f(0), f(1), f(2), f(3), c.rows, c.cols, &p, nullptr);
    case bias_dropout_add_mask:
      return simdrop_bias_dropout_add_f32(f(0), f(1), f(2), f(3), c.rows, c.cols, &p, b[4]);
    case forward_f64: return simdrop_forward_f64(d(0), d(1), n, &p, nullptr);
    case forward_f64_mask: return simdrop_forward_f64(d(0), d(1), n, &p, b[2]);
    case backward_f64: return simdrop_backward_f64(d(0), d(1), n, &p);
    case forward_bf16: return simdrop_forward_bf16(h(0), h(1), n, &p, nullptr);
    case forward_bf16_mask: return simdrop_forward_bf16(h(0), h(1), n, &p, b[2]);
    case backward_bf16: return simdrop_backward_bf16(h(0), h(1), n, &p);
    case forward_f16: return simdrop_forward_f16(h(0), h(1), n, &p, nullptr);
    case forward_f16_mask: return simdrop_forward_f16(h(0), h(1), n, &p, b[2]);
    case backward_f16: return simdrop_backward_f16(h(0), h(1), n, &p);
    case view_f32: return simdrop_forward_view_f32(f(0), c.ld, f(1), c.ld, c.rows, c.cols, c.spatial, &p, nullptr, 0);
    case view_f32_mask:
      return simdrop_forward_view_f32(f(0), c.ld, f(1), c.ld, c.rows, c.cols, c.spatial, &p, b[2], mask_bytes(c.cols) + 1);
    case backward_view_f32: return simdrop_backward_view_f32(f(0), c.ld, f(1), c.ld, c.rows, c.cols, c.spatial, &p);
    case view_f64: return simdrop_forward_view_f64(d(0), c.ld, d(1), c.ld, c.rows, c.cols, c.spatial, &p, nullptr, 0);
    case view_f64_mask:
      return simdrop_forward_view_f64(d(0), c.ld, d(1), c.ld, c.rows, c.cols, c.spatial, &p, b[2], mask_bytes(c.cols) + 1);
    case view_bf16_mask:
      return simdrop_forward_view_bf16(h(0), c.ld, h(1), c.ld, c.rows, c.cols, c.spatial, &p, b[2], mask_bytes(c.cols) + 1);
    case view_f16: return simdrop_forward_view_f16(h(0), c.ld, h(1), c.ld, c.rows, c.cols, c.spatial, &p, nullptr, 0);
    case view_f16_mask:
      return simdrop_forward_view_f16(h(0), c.ld, h(1), c.ld, c.rows, c.cols, c.spatial, &p, b[2], mask_bytes(c.cols) + 1);
    case backward_view_f16: return simdrop_backward_view_f16(h(0), c.ld, h(1), c.ld, c.rows, c.cols, c.spatial, &p);
    case mask_view: return simdrop_mask_view(b[0], mask_bytes(c.cols) + 1, c.rows, c.cols, c.spatial, &p);
    default: return -1;
  }
}

std::string offset_text(uint64_t offset) {
  char text[64];
  if (offset >= ~uint64_t(0) - 1000)
    std::snprintf(text, sizeof text, "2^64-%" PRIu64, ~offset + 1);
  else
    std::snprintf(text, sizeof text, "%" PRIu64, offset);
  return text;
}

std::string describe(const call_case& c) {
  char text[256];
  std::snprintf(text, sizeof text, "%s rows=%u cols=%u ld=%u spatial=%u offset=%s %s", call_names[c.kind], c.rows,
                c.cols, c.ld, c.spatial, offset_text(c.offset).c_str(), all_generator_widths[c.generator_width].name);
  return text;
}

// ---- The sweep --------------------------------------------------------------------------

std::vector<call_case> make_cases(bool reduced) {
  std::vector<uint64_t> offsets;
  for (uint64_t k = 1; k <= 70; ++k) offsets.push_back(uint64_t(0) - k);
  for (uint64_t low : {uint64_t(0), uint64_t(5), uint64_t(24), uint64_t(32), uint64_t(4090),
                       (uint64_t(1) << 32) - 3, (uint64_t(1) << 40) + 17, (uint64_t(1) << 63) - 40})
    offsets.push_back(low);
  std::vector<call_case> cases;
  const size_t widths = sizeof all_generator_widths / sizeof all_generator_widths[0];
  for (uint8_t gw = 0; gw < widths; ++gw)
    for (uint64_t offset : offsets)
      for (uint32_t n = 1; n <= 70; ++n) {
        if (reduced && n > 8 && n % 7 != 0 && n != 32 && n != 64) continue;
        // Every threshold width at every offset and size; the generator in
        // turn (both reach every index arithmetic the widths do).
        if (all_generator_widths[gw].generator != (n + offset) % 2) continue;
        auto add = [&](call_kind kind, uint32_t rows, uint32_t cols, uint32_t ld, uint32_t spatial) {
          call_case c{kind, gw, offset, rows, cols, ld, spatial};
          if (decisions_of(c) - 1 <= ~uint64_t(0) - offset) cases.push_back(c);
        };
        for (call_kind k : {forward_f32, forward_f32_mask, backward_f32, backward_mask_f32, mask_only, fill_u32,
                            forward_f64, forward_f64_mask, backward_f64, forward_bf16, forward_bf16_mask,
                            backward_bf16, forward_f16, forward_f16_mask, backward_f16})
          add(k, 1, n, n, 1);
        // 2-D: one row, one column, and two rows with padding between them.
        for (call_kind k : {forward_2d, forward_2d_mask, backward_2d}) {
          add(k, 1, n, n, 1);
          add(k, n, 1, 3, 1);
          add(k, 2, n, n + 3, 1);
        }
        // Channels: one sample of n channels, n samples of one channel, 1 or 3 positions.
        for (call_kind k : {channels_first, channels_first_mask, channels_last, channels_last_mask})
          for (uint32_t spatial : {1u, 3u}) {
            add(k, 1, n, n, spatial);
            add(k, n, 1, 1, spatial);
          }
        // Views: two rows whose indices are 5 apart beyond the row, and a column.
        for (call_kind k : {view_f32, view_f32_mask, backward_view_f32, view_f64, view_f64_mask, view_bf16_mask,
                            view_f16, view_f16_mask, backward_view_f16, mask_view}) {
          add(k, 2, n, n + 3, n + 5);
          add(k, n, 1, 2, 7);
        }
        for (call_kind k : {bias_dropout_add, bias_dropout_add_mask}) {
          add(k, 1, n, n, 1);
          add(k, n, 1, 1, 1);
          add(k, 2, n, n, 1);
        }
      }
  return cases;
}

// ---- Buffers against inaccessible pages -------------------------------------------------

// One buffer slot: data pages with an inaccessible page on each side. A buffer
// is placed flush against the page after it, or the page before it.
class guarded_slot {
 public:
  guarded_slot(size_t page, size_t data_pages) : page_(page), data_bytes_(data_pages * page) {
    void* p = mmap(nullptr, data_bytes_ + 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      std::perror("guard_pages: mmap");
      std::exit(2);
    }
    base_ = static_cast<uint8_t*>(p);
    if (mprotect(base_, page, PROT_NONE) != 0 || mprotect(base_ + page + data_bytes_, page, PROT_NONE) != 0) {
      std::perror("guard_pages: mprotect");
      std::exit(2);
    }
  }
  size_t capacity() const { return data_bytes_; }
  // Flush after: the buffer ends where the inaccessible page starts. Before: it
  // starts where the inaccessible page ends.
  uint8_t* place(size_t bytes, bool flush_after) const {
    uint8_t* data = base_ + page_;
    return flush_after ? data + data_bytes_ - bytes : data;
  }

 private:
  size_t page_, data_bytes_;
  uint8_t* base_;
};

// Fills a buffer: floats with special values among them, or raw bytes.
void fill(uint8_t* p, const buffer_spec& b, uint64_t seed) {
  simdrop_test::test_rng rng(seed);
  if (b.kind == 0 && !b.output) {
    const std::vector<float> values = simdrop_test::test_inputs(b.bytes / 4, seed);
    std::memcpy(p, values.data(), b.bytes);
  } else {
    for (size_t i = 0; i < b.bytes; ++i) p[i] = uint8_t(b.output ? 0xC3 ^ i : rng.next_u32());
  }
}

struct group {
  const char* isa;
  int threads;
  bool flush_after;
};

constexpr int max_reported = 12;
constexpr int max_groups = 16;

// What a child tells its parent, in memory they share.
struct shared_state {
  volatile size_t current_case;  // the case and group being run
  volatile int current_group;
  size_t passed[max_groups];
  size_t failed[max_groups];
  int reported[max_groups];
  char reports[max_groups][max_reported][320];
};

void report(shared_state* s, int g, const std::string& text) {
  ++s->failed[g];
  if (s->reported[g] < max_reported)
    std::snprintf(s->reports[g][s->reported[g]++], sizeof s->reports[0][0], "%s", text.c_str());
}

// Runs the cases from (start_case, start_group) on: each case's scalar
// reference once, then the call in every group. Returns unless a call faults.
void run_cases(const std::vector<call_case>& cases, const std::vector<group>& groups, size_t start_case,
               int start_group, shared_state* s, size_t page) {
  std::vector<guarded_slot> slots;
  for (int i = 0; i < 5; ++i) slots.emplace_back(page, 2);
  std::vector<std::vector<uint8_t>> inputs(5), reference(5);
  for (size_t index = start_case; index < cases.size(); ++index) {
    const call_case& c = cases[index];
    const std::vector<buffer_spec> specs = buffers_of(c);
    uint8_t* ref[5] = {};
    for (size_t i = 0; i < specs.size(); ++i) {
      if (specs[i].bytes > slots[i].capacity()) {
        std::fprintf(stderr, "guard_pages: %s: buffer larger than its slot (test bug)\n", describe(c).c_str());
        std::exit(3);
      }
      inputs[i].assign(specs[i].bytes + 1, 0);  // + 1: never a zero-sized vector
      fill(inputs[i].data(), specs[i], index * 8 + i);
      reference[i] = inputs[i];
      ref[i] = reference[i].data();
    }
    simdrop_set_isa("scalar");
    simdrop_set_num_threads(1);
    const int ref_status = invoke(c, ref);
    for (int g = index == start_case ? start_group : 0; g < int(groups.size()); ++g) {
      if (groups[g].threads > 1 && !runs_threaded(c)) continue;
      s->current_group = g;
      s->current_case = index;
      uint8_t* tested[5] = {};
      for (size_t i = 0; i < specs.size(); ++i) {
        tested[i] = slots[i].place(specs[i].bytes, groups[g].flush_after);
        std::memcpy(tested[i], inputs[i].data(), specs[i].bytes);
      }
      simdrop_set_isa(groups[g].isa);
      simdrop_set_num_threads(groups[g].threads);
      const int status = invoke(c, tested);
      std::string problem;
      if (ref_status != SIMDROP_OK || status != SIMDROP_OK) {
        problem = "status " + std::to_string(status) + " (scalar reference " + std::to_string(ref_status) + ")";
      } else {
        for (size_t i = 0; i < specs.size() && problem.empty(); ++i)
          if (std::memcmp(tested[i], ref[i], specs[i].bytes) != 0) {
            size_t byte = 0;
            while (tested[i][byte] == ref[i][byte]) ++byte;
            problem = "buffer " + std::to_string(i) + " differs from the scalar reference at byte " + std::to_string(byte);
          }
      }
      if (problem.empty())
        ++s->passed[g];
      else
        report(s, g, describe(c) + ": " + problem);
    }
  }
  s->current_case = cases.size();
}

std::string group_name(const group& g) {
  char text[128];
  std::snprintf(text, sizeof text, "%s, %d thread%s, buffers flush %s an inaccessible page", g.isa, g.threads,
                g.threads == 1 ? "" : "s", g.flush_after ? "before" : "after");
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  const bool reduced = argc > 1 && std::strcmp(argv[1], "--reduced") == 0;
  // Let 3 threads split calls of a few elements (read once, at the first data call).
  setenv("SIMDROP_MIN_ELEMENTS_PER_THREAD", "8", 0);
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  const std::vector<call_case> cases = make_cases(reduced);

  std::vector<group> groups;
  for (size_t i = 0; i < simdrop_isa_count(); ++i) {
    const char* isa = simdrop_isa_name(i);
    if (!simdrop_isa_supported(isa)) {
      std::printf("guard_pages: %s is not supported by this CPU: skipped\n", isa);
      continue;
    }
    for (int threads : {1, 3})
      for (bool after : {true, false}) groups.push_back({isa, threads, after});
  }

  if (groups.size() > size_t(max_groups)) {
    std::fprintf(stderr, "guard_pages: more groups than max_groups\n");
    return 2;
  }
  void* mem = mmap(nullptr, sizeof(shared_state), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    std::perror("guard_pages: mmap");
    return 2;
  }
  shared_state* s = static_cast<shared_state*>(mem);
  std::memset(mem, 0, sizeof(shared_state));
  std::fflush(stdout);
  int faults = 0;
  for (size_t start = 0, start_group = 0; start < cases.size();) {
    const pid_t pid = fork();
    if (pid < 0) {
      std::perror("guard_pages: fork");
      return 2;
    }
    if (pid == 0) {
      run_cases(cases, groups, start, int(start_group), s, page);
      _exit(0);
    }
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0 && s->current_case == cases.size()) break;
    // The child died in this case and group: a failed case; go on after it.
    const size_t at = s->current_case;
    const int g = s->current_group;
    char why[96];
    if (WIFSIGNALED(wstatus))
      std::snprintf(why, sizeof why, "killed by signal %d (%s)", WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)));
    else
      std::snprintf(why, sizeof why, "exited with status %d", WEXITSTATUS(wstatus));
    report(s, g, describe(cases[at]) + ": " + why);
    start_group = size_t(g) + 1;
    start = at;
    if (start_group == groups.size()) start_group = 0, ++start;
    if (++faults == 200) {
      std::printf("guard_pages: 200 faults: the remaining cases were not run\n");
      for (size_t k = 0; k < groups.size(); ++k) s->failed[k] += 1;  // counted, so the run fails
      break;
    }
  }
  size_t passed = 0, failed = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    std::printf("guard_pages: %s: %zu passed, %zu failed\n", group_name(groups[g]).c_str(), s->passed[g],
                s->failed[g]);
    for (int i = 0; i < s->reported[g]; ++i) std::printf("  FAILED: %s\n", s->reports[g][i]);
    if (s->failed[g] > size_t(s->reported[g])) std::printf("  ... and %zu more\n", s->failed[g] - size_t(s->reported[g]));
    passed += s->passed[g];
    failed += s->failed[g];
  }
  size_t threaded = 0;
  for (const call_case& c : cases) threaded += runs_threaded(c);
  std::printf("guard_pages: %zu cases per one-thread group, %zu per three-thread group, %zu groups\n", cases.size(),
              threaded, groups.size());
  std::printf("guard_pages: %zu passed, %zu failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
