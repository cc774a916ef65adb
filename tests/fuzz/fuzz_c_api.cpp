// libFuzzer harness for the whole C API (issue 6).
//
// The fuzzer's bytes choose, for up to eight calls per input: the operation, n,
// offset (often near 2^32 or a multiple of it, 2^40, 2^63 or 2^64), stream, seed, the generator and
// threshold_bits as raw integers (invalid ones included), keep_prob as a raw
// 32-bit pattern (NaN, infinities, subnormals, 1 + ulp, -0 ...), the buffer
// layout (misaligned, in place, partially overlapping, NULL), the forced
// implementation and the thread count.
//
// Every call is checked against the contract:
//  - the harness predicts, independently, which documented errors apply. When
//    some do, the call must return one of them and leave every byte of the arena
//    unchanged; when none does, it must return SIMDROP_OK;
//  - on success, the whole arena must equal the same call run by the "scalar"
//    implementation on one thread on a copy of the arena (same layout, so in-place
//    and aliasing cases are compared like for like), every byte outside the
//    documented outputs must be unchanged (guards, row padding), and a few sampled
//    elements must equal a literal evaluation of the stream formulas written here.
// Guard bytes between and around buffers are also ASan-poisoned when built with
// AddressSanitizer, so a stray read is caught, not only a stray write.
//
// The same file is linked with replay_main.cpp (any compiler) so that ctest
// replays the committed corpus in every build, and with -fsanitize=fuzzer for
// the real fuzzer (clang only; see tests/fuzz/CMakeLists.txt).
//
// Every data call of the C API is exercised; the harness calls each by name,
// so a renamed or removed call is a compile error here.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <vector>

#include "simdrop/simdrop.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SIMDROP_FUZZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SIMDROP_FUZZ_ASAN 1
#endif
#if defined(SIMDROP_FUZZ_ASAN)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace {

// ---------------------------------------------------------------------------
// Failure reporting: print what was being checked, then abort (libFuzzer saves
// the input as a crash; the replay test fails).

struct call_log {
  char text[512] = "";
};
call_log current_call;

[[noreturn]] void fail(const char* what, long long detail = -1) {
  std::fprintf(stderr, "simdrop fuzz: CONTRACT VIOLATION: %s (detail %lld)\n  call: %s\n", what, detail,
               current_call.text);
  std::abort();
}

#define FUZZ_CHECK(cond, ...)      \
  do {                             \
    if (!(cond)) fail(__VA_ARGS__); \
  } while (0)

// ---------------------------------------------------------------------------
// Reading the fuzzer's bytes: past the end, every read gives zeros.

class byte_reader {
 public:
  byte_reader(const uint8_t* data, size_t size) : p_(data), left_(size) {}
  bool empty() const { return left_ == 0; }
  uint8_t u8() {
    if (left_ == 0) return 0;
    --left_;
    return *p_++;
  }
  uint16_t u16() { return uint16_t(u8() | (unsigned(u8()) << 8)); }
  uint32_t u32() { return uint32_t(u16()) | (uint32_t(u16()) << 16); }
  uint64_t u64() { return uint64_t(u32()) | (uint64_t(u32()) << 32); }

 private:
  const uint8_t* p_;
  size_t left_;
};

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

float float_from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
uint64_t bits_of(double d) {
  uint64_t b;
  std::memcpy(&b, &d, 8);
  return b;
}

// ---------------------------------------------------------------------------
// A literal evaluation of the stream contract (docs/stream.md), written from
// the formulas and sharing no code with the library.

void oracle_philox(const uint32_t ctr_in[4], const uint32_t key_in[2], uint32_t out[4]) {
  uint32_t c[4] = {ctr_in[0], ctr_in[1], ctr_in[2], ctr_in[3]};
  uint32_t k0 = key_in[0], k1 = key_in[1];
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t(0xD2511F53u) * c[0], p1 = uint64_t(0xCD9E8D57u) * c[2];
    const uint32_t n0 = uint32_t(p1 >> 32) ^ c[1] ^ k0, n1 = uint32_t(p1);
    const uint32_t n2 = uint32_t(p0 >> 32) ^ c[3] ^ k1, n3 = uint32_t(p0);
    c[0] = n0, c[1] = n1, c[2] = n2, c[3] = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  std::memcpy(out, c, sizeof c);
}

void oracle_block(uint64_t counter, uint64_t stream, uint64_t seed, uint32_t out[4]) {
  const uint32_t ctr[4] = {uint32_t(counter), uint32_t(counter >> 32), uint32_t(stream), uint32_t(stream >> 32)};
  const uint32_t key[2] = {uint32_t(seed), uint32_t(seed >> 32)};
  oracle_philox(ctr, key, out);
}

uint32_t oracle_word(uint32_t generator, uint64_t seed, uint64_t stream, uint64_t k) {
  uint32_t b[4];
  if (generator == 0) {
    const uint64_t group = k / 64, r = k % 64, j = r / 16, q = 16 * group + r % 16;
    oracle_block(q, stream, seed, b);
    return b[j];
  }
  const uint64_t t = k / 4096, r = k % 4096, lane = r % 16, step = r / 16;
  oracle_block((uint64_t(1) << 63) + 16 * t + lane, stream, seed, b);
  uint32_t s0 = b[0], s1 = b[1], s2 = b[2], s3 = b[3];
  if ((s0 | s1 | s2 | s3) == 0) s0 = 1;
  uint32_t result = 0;
  for (uint64_t i = 0; i <= step; ++i) {
    result = ((s0 + s3) << 7 | (s0 + s3) >> 25) + s0;
    const uint32_t t9 = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t9;
    s3 = (s3 << 11) | (s3 >> 21);
  }
  return result;
}

struct decision_rule {
  uint32_t generator, bits;
  uint64_t seed, stream, T;  // T = floor(keep_prob * 2^bits + 0.5) in double
  float scale;               // (float)(2^bits / T)
  double scale64;            // 2^bits / T (f64 calls)
};

decision_rule make_rule(uint32_t generator, uint32_t bits, uint64_t seed, uint64_t stream, float keep_prob) {
  decision_rule r{generator, bits, seed, stream, 0, 0.0f, 0.0};
  const double two_bits = bits == 32 ? 4294967296.0 : bits == 16 ? 65536.0 : 256.0;
  r.T = uint64_t(std::floor(double(keep_prob) * two_bits + 0.5));
  if (r.T != 0) {
    r.scale64 = two_bits / double(r.T);
    r.scale = float(r.scale64);
  }
  return r;
}

bool oracle_keep(const decision_rule& r, uint64_t g) {
  if (r.bits == 32) return oracle_word(r.generator, r.seed, r.stream, g) < r.T;
  if (r.bits == 16) {
    const uint64_t k = (g / 32) * 16 + g % 16, h = (g / 16) % 2;
    const uint32_t w = oracle_word(r.generator, r.seed, r.stream, k);
    return (h ? w >> 16 : w & 0xFFFFu) < r.T;
  }
  const uint64_t k = (g / 64) * 16 + g % 16, b = (g / 16) % 4;  // 8 bits
  return ((oracle_word(r.generator, r.seed, r.stream, k) >> (8 * b)) & 0xFFu) < r.T;
}

// Round-to-nearest-even float -> bf16 / IEEE half, and back (literal, for the oracle).
uint16_t to_bf16(float f) {
  uint32_t b = bits_of(f);
  if ((b & 0x7FFFFFFFu) > 0x7F800000u) return uint16_t((b >> 16) | 0x0040u);  // quiet NaN
  b += 0x7FFFu + ((b >> 16) & 1u);
  return uint16_t(b >> 16);
}
float from_bf16(uint16_t h) { return float_from_bits(uint32_t(h) << 16); }
float from_f16(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
  if (e == 0) {
    const float v = std::ldexp(float(m), -24);
    return sign ? -v : v;
  }
  if (e == 31) return float_from_bits(sign | 0x7F800000u | (m << 13));
  return float_from_bits(sign | ((e + 112) << 23) | (m << 13));
}

// ---------------------------------------------------------------------------
// The arena: one block holding every buffer of a call, so that the scalar
// reference can run on a copy with the same relative layout.

constexpr size_t arena_slack = 256;  // guard bytes before, between and after buffers

struct region {
  size_t at = 0, bytes = 0;  // offset in the arena
};

struct arena {
  std::vector<uint8_t> storage;
  uint8_t* base = nullptr;  // 64-byte aligned
  size_t size = 0;

  void reset(size_t bytes) {
    size = bytes;
    storage.assign(bytes + 64, 0);
    base = storage.data() + (64 - reinterpret_cast<uintptr_t>(storage.data()) % 64) % 64;
  }
};

// ---------------------------------------------------------------------------
// Values chosen from the fuzzer's bytes.

float pick_keep_prob(byte_reader& in) {
  static const uint32_t table[] = {
      0x00000000u, 0x80000000u,  // +0, -0
      0x3F800000u, 0x3F000000u,  // 1, 0.5
      0x3DCCCCCDu, 0x3F666666u, 0x3F7FBE77u, 0x3F4CCCCDu,  // 0.1, 0.9, 0.999, 0.8
      0x00000001u, 0x80000001u, 0x007FFFFFu, 0x00800000u,  // subnormals, FLT_MIN
      0x2F800000u, 0x2F000000u, 0x2F400000u,  // 2^-32, 2^-33, 1.5 * 2^-33 (T rounds to 0 / 1)
      0x37800000u, 0x37000000u, 0x37400000u,  // 2^-16, 2^-17, 1.5 * 2^-17
      0x3F7FFFFFu, 0x3F7FFFFEu,  // largest floats below 1 (1 - 2^-24, 1 - 2^-23)
      0x3F7FFF80u, 0x3F7FFFC0u,  // 1 - 2^-17 + ..., 16-bit T = 2^16 rounding edge
      0x3F800001u, 0x40000000u, 0xBF800000u, 0x7F7FFFFFu,  // 1 + ulp, 2, -1, FLT_MAX
      0x7F800000u, 0xFF800000u,  // +inf, -inf
      0x7FC00000u, 0xFFC00000u, 0x7F800001u, 0x7FFFFFFFu,  // NaNs (quiet, negative, signalling)
  };
  const uint8_t mode = in.u8();
  const size_t count = sizeof table / sizeof table[0];
  switch (mode % 4) {
    case 0:
    case 1: return float_from_bits(table[in.u8() % count]);
    case 2: return float_from_bits(table[in.u8() % count] + uint32_t(int8_t(in.u8())));
    default: return float_from_bits(in.u32());
  }
}

uint64_t pick_u64(byte_reader& in) {
  switch (in.u8() % 6) {
    case 0: return in.u8();
    case 1: return in.u16();
    case 2: return ~uint64_t(0) - in.u8();
    case 3: return uint64_t(1) << (in.u8() % 64);
    default: return in.u64();
  }
}

size_t pick_n(byte_reader& in, bool allow_big) {
  const uint8_t mode = in.u8();
  switch (mode % 16) {
    case 0: return 0;
    case 1: case 2: case 3: return in.u8() % 80;
    case 4: case 5: case 6: case 7: return in.u16() % 4500;
    case 8: {  // next to a register, group or tile boundary
      static const size_t around[] = {8, 16, 32, 64, 128, 4096};
      const size_t base = around[in.u8() % 6] * (1 + in.u8() % 3);
      return base + size_t(int8_t(in.u8()) % 4);
    }
    case 9:
      // Large enough for the OpenMP tiling (2 x 2^16 elements per thread and more).
      if (allow_big) return (size_t(1) << 17) + in.u16() % 12000;
      return in.u16() % 4500;
    default: return in.u16() % 1200;
  }
}

// Offsets where index arithmetic breaks if it is written carelessly: the end of
// the index space, and multiples of 2^32 (where the counter's high word
// carries). Mode bytes below 200 keep the meaning they had when the committed
// corpus was made (mode % 10); 200 and above (22 % of inputs) are the edges
// added after issue 15, whose f16 calls ended within 31 of 2^64 and wrote past
// their buffers: an input there met the bug about once in 150,000 executions.
uint64_t pick_offset(byte_reader& in, uint64_t n) {
  const uint8_t mode = in.u8();
  const int64_t delta = int16_t(in.u16());
  if (mode >= 200) {
    const uint64_t near = in.u8();
    switch (mode % 4) {
      case 0: return uint64_t(0) - n - near % 40;               // a valid call ending within 40 of 2^64
      case 1: return uint64_t(0) - 1 - near % 96;               // within 96 of 2^64, often past it with n
      case 2: return (uint64_t(in.u32()) << 32) + uint64_t(delta % 64);  // next to a multiple of 2^32
      default: return (uint64_t(in.u32()) << 32) - n / 2 + uint64_t(delta % 64);  // straddling one
    }
  }
  switch (mode % 10) {
    case 0: return uint64_t(in.u16());
    case 1: return (uint64_t(1) << 32) + uint64_t(delta);
    case 2: return (uint64_t(1) << 40) + uint64_t(delta);
    case 3: return (uint64_t(1) << 63) + uint64_t(delta);
    case 4: return uint64_t(0) - n + uint64_t(delta % 64);  // ends at 2^64, or just past/before it
    case 5: return ~uint64_t(0) - uint64_t(delta & 0xFFFF);
    case 6: return uint64_t(in.u32()) * 4096 + uint64_t(delta % 4096);
    case 7: return (uint64_t(1) << 32) - n / 2 + uint64_t(delta % 64);  // straddles 2^32
    default: return in.u64();
  }
}

uint32_t pick_generator(byte_reader& in) {
  const uint8_t mode = in.u8();
  if (mode < 112) return 0;
  if (mode < 224) return 1;
  static const uint32_t odd[] = {2, 3, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu, 256};
  return mode < 240 ? odd[mode % 6] : in.u32();
}

// 8-bit thresholds joined later: mode bytes 200..223, which gave 16 before
// (still a valid width, so old corpus inputs stay valid calls).
uint32_t pick_threshold_bits(byte_reader& in) {
  const uint8_t mode = in.u8();
  if (mode < 112) return 32;
  if (mode < 200) return 16;
  if (mode < 224) return 8;
  static const uint32_t odd[] = {0, 1, 7, 15, 17, 31, 33, 64, 0xFFFFFFFFu, 48};
  return mode < 240 ? odd[mode % 10] : in.u32();
}

// ---------------------------------------------------------------------------
// Operations. Numbers are fixed so that corpus files keep their meaning.

enum op_id : uint8_t {
  op_forward,
  op_forward_mask,
  op_backward,
  op_backward_mask,
  op_mask,
  op_fill,
  op_philox,
  op_status_string,
  op_forward_2d,
  op_backward_2d,
  op_forward_channels,
  op_bias_dropout_add,
  op_forward_f64,
  op_backward_f64,
  op_forward_bf16,
  op_backward_bf16,
  op_forward_f16,
  op_backward_f16,
  op_count,  // the operation byte's modulus below 240 (the corpus was made with it)
  // Operation bytes from 240 up (issue 12): views with their own index row
  // stride, of any element type, and the mask of a view alone.
  op_forward_view = op_count,
  op_backward_view,
  op_mask_view,
  op_view_count = 3
};

bool is_view_op(int op) { return op >= op_forward_view; }
bool is_2d_op(int op) { return op == op_forward_2d || op == op_backward_2d || is_view_op(op); }

// One buffer of a call. Element-typed buffers keep their natural alignment unless
// the layout makes them overlap another one (then an error is expected and
// nothing may be touched).
struct buffer {
  const char* name;
  size_t elem = 1;     // element size in bytes (alignment unit)
  size_t bytes = 0;    // span the call may touch
  bool output = false;
  bool required = true;  // NULL with work to do is SIMDROP_ERR_NULL_POINTER
  bool is_null = false;
  region where;
  std::vector<region> written;  // the bytes the call documents as written (rows of a 2-D view ...)
};

buffer make_buffer(const char* name, size_t elem, size_t bytes, bool output, bool required) {
  buffer b;
  b.name = name;
  b.elem = elem;
  b.bytes = bytes;
  b.output = output;
  b.required = required;
  return b;
}

struct call_spec {
  int op = 0;
  size_t n = 0;                    // elements (1-D), or rows x cols / batch x channels
  size_t rows = 0, cols = 0;       // 2-D, fused
  size_t ld[3] = {0, 0, 0};        // 2-D leading dims: x/dy, y/dx, mask (bytes)
  size_t batch = 0, channels = 0, spatial = 0;
  int channels_last = 0;
  uint64_t index_ld = 0;           // views: global index row stride
  size_t elem = 4;                 // views: element bytes (4 f32, 8 f64, 2 bf16 or f16)
  bool half_is_bf16 = false;       // views of 2-byte elements: bf16 (else f16)
  bool null_params = false;
  simdrop_params params{};
  uint32_t generator_raw = 0, bits_raw = 0;
  std::vector<buffer> buffers;
};

// Bytes of a 2-D view: (rows - 1) * ld + row, in elements, or 0 if any is 0.
size_t view_span(size_t rows, size_t ld, size_t row) { return rows == 0 || row == 0 ? 0 : (rows - 1) * ld + row; }

// Fill the buffers of a call with inputs derived from one seed (special values included).
void fill_inputs(uint8_t* base, const call_spec& c, uint64_t seed) {
  for (const buffer& b : c.buffers) {
    if (b.is_null) continue;
    uint8_t* p = base + b.where.at;
    uint64_t s = seed ^ b.where.at;
    if (b.elem == 4 && std::strcmp(b.name, "mask") != 0) {
      for (size_t i = 0; i + 4 <= b.bytes; i += 4) {
        const uint64_t r = splitmix(s);
        uint32_t v = bits_of(float(int32_t(r)) * 0x1p-28f);
        if ((r >> 40) % 32 == 0) {
          static const uint32_t special[] = {0x7FC00000u, 0xFFC00001u, 0x7F800000u, 0xFF800000u, 0x80000000u,
                                             0x00000001u, 0x7F7FFFFFu, 0xFF7FFFFFu, 0x7FA00000u};
          v = special[(r >> 48) % 9];
        }
        std::memcpy(p + i, &v, 4);
      }
    } else if (b.elem == 8) {
      for (size_t i = 0; i + 8 <= b.bytes; i += 8) {
        const uint64_t r = splitmix(s);
        double v = double(int64_t(r)) * 0x1p-60;
        if ((r >> 40) % 32 == 0) v = (r >> 48) % 2 ? std::numeric_limits<double>::quiet_NaN() : -HUGE_VAL;
        std::memcpy(p + i, &v, 8);
      }
    } else {
      for (size_t i = 0; i < b.bytes; ++i) p[i] = uint8_t(splitmix(s));
    }
  }
}

// ---------------------------------------------------------------------------
// The documented errors of a call, predicted from its arguments alone.

struct expectation {
  bool must_fail = false;
  unsigned allowed = 0;  // bit per status
  void add(int status, bool certain = true) {
    allowed |= 1u << status;
    if (certain) must_fail = true;
  }
};

bool params_valid(const call_spec& c, expectation& e) {
  if (c.null_params) {
    e.add(SIMDROP_ERR_NULL_PARAMS);
    return false;
  }
  bool ok = true;
  const float k = c.params.keep_prob;
  if (!(k >= 0.0f && k <= 1.0f)) e.add(SIMDROP_ERR_KEEP_PROB), ok = false;  // NaN fails both
  if (c.bits_raw != 8 && c.bits_raw != 16 && c.bits_raw != 32) e.add(SIMDROP_ERR_THRESHOLD_BITS), ok = false;
  if (c.generator_raw > 1) e.add(SIMDROP_ERR_GENERATOR), ok = false;
  return ok;
}

bool spans_overlap(const buffer& a, const buffer& b) {
  if (a.is_null || b.is_null || a.bytes == 0 || b.bytes == 0) return false;
  return a.where.at < b.where.at + b.bytes && b.where.at < a.where.at + a.bytes;
}

// ---------------------------------------------------------------------------
// Running one call against an arena.

const buffer* find(const call_spec& c, const char* name) {
  for (const buffer& b : c.buffers)
    if (std::strcmp(b.name, name) == 0) return &b;
  return nullptr;
}

template <class T>
T* ptr(uint8_t* base, const call_spec& c, const char* name) {
  const buffer* b = find(c, name);
  if (!b || b->is_null) return nullptr;
  return reinterpret_cast<T*>(base + b->where.at);
}

// The view calls of each element type, forward (with its optional mask) or backward.
int invoke_view(uint8_t* base, const call_spec& c, const simdrop_params* p) {
  const bool fwd = c.op == op_forward_view;
  uint8_t* mask = fwd ? ptr<uint8_t>(base, c, "mask") : nullptr;
  const size_t r = c.rows, k = c.cols, lx = c.ld[0], ly = c.ld[1], lm = c.ld[2];
  const uint64_t il = c.index_ld;
  if (c.elem == 4) {
    const float* x = ptr<const float>(base, c, "x");
    float* y = ptr<float>(base, c, "y");
    return fwd ? simdrop_forward_view_f32(x, lx, y, ly, r, k, il, p, mask, lm)
               : simdrop_backward_view_f32(x, lx, y, ly, r, k, il, p);
  }
  if (c.elem == 8) {
    const double* x = ptr<const double>(base, c, "x");
    double* y = ptr<double>(base, c, "y");
    return fwd ? simdrop_forward_view_f64(x, lx, y, ly, r, k, il, p, mask, lm)
               : simdrop_backward_view_f64(x, lx, y, ly, r, k, il, p);
  }
  const uint16_t* x = ptr<const uint16_t>(base, c, "x");
  uint16_t* y = ptr<uint16_t>(base, c, "y");
  if (c.half_is_bf16)
    return fwd ? simdrop_forward_view_bf16(x, lx, y, ly, r, k, il, p, mask, lm)
               : simdrop_backward_view_bf16(x, lx, y, ly, r, k, il, p);
  return fwd ? simdrop_forward_view_f16(x, lx, y, ly, r, k, il, p, mask, lm)
             : simdrop_backward_view_f16(x, lx, y, ly, r, k, il, p);
}

int invoke(uint8_t* base, const call_spec& c) {
  const simdrop_params* p = c.null_params ? nullptr : &c.params;
  switch (c.op) {
    case op_forward:
    case op_forward_mask:
      return simdrop_forward_f32(ptr<const float>(base, c, "x"), ptr<float>(base, c, "y"), c.n, p,
                                 ptr<uint8_t>(base, c, "mask"));
    case op_backward: return simdrop_backward_f32(ptr<const float>(base, c, "x"), ptr<float>(base, c, "y"), c.n, p);
    case op_backward_mask:
      return simdrop_backward_mask_f32(ptr<const float>(base, c, "x"), ptr<const uint8_t>(base, c, "mask"),
                                       ptr<float>(base, c, "y"), c.n, p);
    case op_mask: return simdrop_mask(ptr<uint8_t>(base, c, "mask"), c.n, p);
    case op_fill: return simdrop_fill_u32(ptr<uint32_t>(base, c, "words"), c.n, p);
    case op_forward_2d:
      return simdrop_forward_2d_f32(ptr<const float>(base, c, "x"), c.ld[0], ptr<float>(base, c, "y"), c.ld[1],
                                    c.rows, c.cols, p, ptr<uint8_t>(base, c, "mask"), c.ld[2]);
    case op_backward_2d:
      return simdrop_backward_2d_f32(ptr<const float>(base, c, "x"), c.ld[0], ptr<float>(base, c, "y"), c.ld[1],
                                     c.rows, c.cols, p);
    case op_forward_channels:
      return simdrop_forward_channels_f32(ptr<const float>(base, c, "x"), ptr<float>(base, c, "y"), c.batch,
                                          c.channels, c.spatial, c.channels_last, p, ptr<uint8_t>(base, c, "mask"));
    case op_bias_dropout_add:
      return simdrop_bias_dropout_add_f32(ptr<const float>(base, c, "x"), ptr<const float>(base, c, "bias"),
                                          ptr<const float>(base, c, "residual"), ptr<float>(base, c, "y"), c.rows,
                                          c.cols, p, ptr<uint8_t>(base, c, "mask"));
    case op_forward_f64:
      return simdrop_forward_f64(ptr<const double>(base, c, "x"), ptr<double>(base, c, "y"), c.n, p,
                                 ptr<uint8_t>(base, c, "mask"));
    case op_backward_f64: return simdrop_backward_f64(ptr<const double>(base, c, "x"), ptr<double>(base, c, "y"), c.n, p);
    case op_forward_bf16:
      return simdrop_forward_bf16(ptr<const uint16_t>(base, c, "x"), ptr<uint16_t>(base, c, "y"), c.n, p,
                                  ptr<uint8_t>(base, c, "mask"));
    case op_backward_bf16:
      return simdrop_backward_bf16(ptr<const uint16_t>(base, c, "x"), ptr<uint16_t>(base, c, "y"), c.n, p);
    case op_forward_f16:
      return simdrop_forward_f16(ptr<const uint16_t>(base, c, "x"), ptr<uint16_t>(base, c, "y"), c.n, p,
                                 ptr<uint8_t>(base, c, "mask"));
    case op_backward_f16:
      return simdrop_backward_f16(ptr<const uint16_t>(base, c, "x"), ptr<uint16_t>(base, c, "y"), c.n, p);
    case op_forward_view:
    case op_backward_view: return invoke_view(base, c, p);
    case op_mask_view:
      return simdrop_mask_view(ptr<uint8_t>(base, c, "mask"), c.ld[2], c.rows, c.cols, c.index_ld, p);
    default: fail("invoke: unknown operation", c.op);
  }
}

// The implementation and thread count of the call under test; the reference
// always runs on "scalar" with one thread.
struct runtime_choice {
  const char* isa = "auto";
  int threads = 0;
};

void apply(const runtime_choice& r) {
  FUZZ_CHECK(simdrop_set_isa(r.isa) == SIMDROP_OK, "simdrop_set_isa refused a supported implementation");
  FUZZ_CHECK(simdrop_set_num_threads(r.threads) == SIMDROP_OK, "simdrop_set_num_threads refused n >= 0");
  FUZZ_CHECK(simdrop_get_num_threads() == r.threads, "simdrop_get_num_threads does not return the value set");
  if (std::strcmp(r.isa, "auto") != 0)
    FUZZ_CHECK(std::strcmp(simdrop_active_isa(), r.isa) == 0, "forced implementation is not the active one");
}

// ---------------------------------------------------------------------------
// Building a call from the bytes.

void choose_layout(byte_reader& in, call_spec& c, size_t* arena_bytes) {
  const uint8_t mode = in.u8();
  const uint8_t misalign = in.u8();
  // Disjoint placement first: each buffer after a guard gap, misaligned by whole elements.
  size_t at = arena_slack;
  for (size_t i = 0; i < c.buffers.size(); ++i) {
    buffer& b = c.buffers[i];
    at = (at + 63) / 64 * 64;
    at += ((misalign >> (2 * i)) & 3) * (b.elem == 1 ? 1 + (misalign & 7) : b.elem);
    b.where.at = at;
    at += b.bytes + arena_slack / 4 + (misalign & 0x30);
  }
  *arena_bytes = at + arena_slack;

  // Then, maybe, make two of them share bytes or set some to NULL.
  const size_t count = c.buffers.size();
  if (count == 0) return;
  buffer& a = c.buffers[in.u8() % count];
  buffer& b = c.buffers[in.u8() % count];
  const int16_t shift = int16_t(in.u16());
  switch (mode % 16) {
    case 10:  // exact aliasing (in place when a is an input and b the output of the same type)
      if (&a != &b) b.where.at = a.where.at;
      break;
    case 11:  // partial overlap by whole elements
    case 12:  // partial overlap by any number of bytes (an error is expected: no access happens)
      if (&a != &b && a.bytes != 0) {
        const size_t unit = mode % 16 == 11 ? b.elem : 1;
        int64_t d = int64_t(shift % int64_t(a.bytes + 1)) / int64_t(unit) * int64_t(unit);
        if (d == 0) d = int64_t(unit);
        int64_t target = int64_t(a.where.at) + d;
        if (target < int64_t(arena_slack / 2)) target = int64_t(arena_slack / 2);
        b.where.at = size_t(target);
        if (b.where.at + b.bytes + arena_slack > *arena_bytes) *arena_bytes = b.where.at + b.bytes + arena_slack;
      }
      break;
    case 13: a.is_null = true; break;
    case 14:
      for (buffer& x : c.buffers) x.is_null = (shift >> (&x - &c.buffers[0])) & 1;
      break;
    default: break;
  }
  for (buffer& x : c.buffers)
    if (!x.required && (misalign & 0x80) && x.output) x.is_null = x.is_null || (shift & 0x4000);
  // A moved buffer may now end past the others: the arena keeps a guard after every one.
  for (const buffer& x : c.buffers) *arena_bytes = std::max(*arena_bytes, x.where.at + x.bytes + arena_slack);
}

// Element-wise 1-D calls: x (input), y (output), optional mask.
void build_1d(byte_reader& in, call_spec& c, size_t elem, bool has_mask_out, bool has_mask_in,
              size_t* arena_bytes) {
  const size_t mask_bytes = (c.n + 7) / 8;
  if (c.op == op_mask) {
    c.buffers.push_back(make_buffer("mask", 1, mask_bytes, true, true));
  } else if (c.op == op_fill) {
    c.buffers.push_back(make_buffer("words", 4, c.n * 4, true, true));
  } else {
    c.buffers.push_back(make_buffer("x", elem, c.n * elem, false, true));
    c.buffers.push_back(make_buffer("y", elem, c.n * elem, true, true));
    if (has_mask_out) c.buffers.push_back(make_buffer("mask", 1, mask_bytes, true, false));
    if (has_mask_in) c.buffers.push_back(make_buffer("mask", 1, mask_bytes, false, true));
  }
  choose_layout(in, c, arena_bytes);
}

// Predicts the errors of the element-wise and 2-D calls.
expectation predict(const call_spec& c, uint64_t elements) {
  expectation e;
  const bool ok = params_valid(c, e);
  if (!ok) return e;
  if (elements == 0) return e;  // a no-op, NULL pointers and all
  // A NULL buffer the call would touch must be refused; one of no bytes (a
  // channel call with spatial == 0) may be accepted.
  for (const buffer& b : c.buffers)
    if (b.required && b.is_null) e.add(SIMDROP_ERR_NULL_POINTER, b.bytes != 0);
  if (elements - 1 > ~uint64_t(0) - c.params.offset) e.add(SIMDROP_ERR_INDEX_OVERFLOW);
  // Any byte shared by an output and another buffer is an error, except an
  // input and an output of the same element type at the same address (in place).
  for (size_t i = 0; i < c.buffers.size(); ++i)
    for (size_t j = i + 1; j < c.buffers.size(); ++j) {
      const buffer &a = c.buffers[i], &b = c.buffers[j];
      if (!(a.output || b.output) || !spans_overlap(a, b)) continue;
      // (bias is read for every row: it may not meet y at all.)
      const bool in_place = a.where.at == b.where.at && a.elem == b.elem && a.bytes == b.bytes &&
                            std::strcmp(a.name, "mask") != 0 && std::strcmp(b.name, "mask") != 0 &&
                            std::strcmp(a.name, "bias") != 0 && std::strcmp(b.name, "bias") != 0;
      const bool strided = is_2d_op(c.op);
      if (in_place && (!strided || c.ld[0] == c.ld[1])) continue;
      // The 2-D calls and the fused call may accept overlapping spans whose
      // written bytes do not meet; they must then still match the reference.
      const bool certain = !(strided || c.op == op_bias_dropout_add);
      e.add(SIMDROP_ERR_OVERLAP, certain);
    }
  return e;
}

// ---------------------------------------------------------------------------
// Oracle checks on sampled elements of a successful call.

template <class T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

void check_samples(const call_spec& c, const uint8_t* before, const uint8_t* after, uint64_t sample_seed) {
  const decision_rule rule =
      make_rule(c.generator_raw, c.bits_raw, c.params.seed, c.params.stream, c.params.keep_prob);
  const buffer* x = find(c, "x");
  const buffer* y = find(c, "y");
  const buffer* mask = find(c, "mask");
  const bool mask_written = mask && mask->output && !mask->is_null;
  uint64_t s = sample_seed;
  std::vector<size_t> picks;
  if (c.n == 0) return;
  picks.push_back(0);
  picks.push_back(c.n - 1);
  for (int i = 0; i < 6; ++i) picks.push_back(size_t(splitmix(s) % c.n));

  for (size_t i : picks) {
    const uint64_t g = c.params.offset + i;
    switch (c.op) {
      case op_fill: {
        const uint32_t got = load<uint32_t>(after + find(c, "words")->where.at + 4 * i);
        FUZZ_CHECK(got == oracle_word(rule.generator, rule.seed, rule.stream, g), "fill_u32 word != oracle", i);
        break;
      }
      case op_mask:
      case op_forward:
      case op_forward_mask:
      case op_backward:
      case op_forward_f64:
      case op_backward_f64:
      case op_forward_bf16:
      case op_backward_bf16:
      case op_forward_f16:
      case op_backward_f16: {
        const bool keep = oracle_keep(rule, g);
        if (mask_written) {
          const bool bit = (after[mask->where.at + i / 8] >> (i % 8)) & 1;
          FUZZ_CHECK(bit == keep, "mask bit != oracle decision", i);
        }
        if (c.op == op_mask) break;
        const uint8_t* xin = before + x->where.at;
        const uint8_t* yout = after + y->where.at;
        if (x->elem == 4) {
          const uint32_t want = keep ? bits_of(load<float>(xin + 4 * i) * rule.scale) : 0u;
          FUZZ_CHECK(load<uint32_t>(yout + 4 * i) == want, "f32 output != oracle", i);
        } else if (x->elem == 8) {
          const uint64_t want = keep ? bits_of(load<double>(xin + 8 * i) * rule.scale64) : 0u;
          FUZZ_CHECK(load<uint64_t>(yout + 8 * i) == want, "f64 output != oracle", i);
        } else {
          const uint16_t got = load<uint16_t>(yout + 2 * i), xv = load<uint16_t>(xin + 2 * i);
          if (!keep) {
            FUZZ_CHECK(got == 0, "16-bit output of a dropped element is not +0", i);
          } else if (c.op == op_forward_bf16 || c.op == op_backward_bf16) {
            const float want = from_bf16(xv) * rule.scale;
            if (!std::isnan(want)) FUZZ_CHECK(got == to_bf16(want), "bf16 output != oracle", i);
          } else {
            const float want = from_f16(xv) * rule.scale;
            // Half rounding is checked against the reference bit for bit; here only the value class.
            if (std::isnan(want)) FUZZ_CHECK(std::isnan(from_f16(got)), "f16 NaN not kept NaN", i);
          }
        }
        break;
      }
      case op_backward_mask: {
        const bool bit = (before[mask->where.at + i / 8] >> (i % 8)) & 1;
        const uint32_t want = bit ? bits_of(load<float>(before + x->where.at + 4 * i) * rule.scale) : 0u;
        FUZZ_CHECK(load<uint32_t>(after + y->where.at + 4 * i) == want, "backward_mask output != mask * s", i);
        break;
      }
      case op_forward_2d:
      case op_backward_2d: {
        if (c.cols == 0) break;
        const size_t r = i / c.cols, col = i % c.cols;
        const bool keep = oracle_keep(rule, g);
        const float xv = load<float>(before + x->where.at + 4 * (r * c.ld[0] + col));
        const uint32_t want = keep ? bits_of(xv * rule.scale) : 0u;
        FUZZ_CHECK(load<uint32_t>(after + y->where.at + 4 * (r * c.ld[1] + col)) == want, "2-D output != oracle", i);
        if (mask_written)
          FUZZ_CHECK(bool((after[mask->where.at + r * c.ld[2] + col / 8] >> (col % 8)) & 1) == keep,
                     "2-D mask bit != oracle", i);
        break;
      }
      case op_forward_view:
      case op_backward_view:
      case op_mask_view: {
        if (c.cols == 0) break;
        const size_t r = i / c.cols, col = i % c.cols;
        const bool keep = oracle_keep(rule, c.params.offset + r * c.index_ld + col);
        if (mask_written)
          FUZZ_CHECK(bool((after[mask->where.at + r * c.ld[2] + col / 8] >> (col % 8)) & 1) == keep,
                     "view mask bit != oracle", i);
        if (c.op == op_mask_view) break;
        const uint8_t* xin = before + x->where.at + c.elem * (r * c.ld[0] + col);
        const uint8_t* yout = after + y->where.at + c.elem * (r * c.ld[1] + col);
        if (c.elem == 4) {
          FUZZ_CHECK(load<uint32_t>(yout) == (keep ? bits_of(load<float>(xin) * rule.scale) : 0u), "view f32 != oracle", i);
        } else if (c.elem == 8) {
          FUZZ_CHECK(load<uint64_t>(yout) == (keep ? bits_of(load<double>(xin) * rule.scale64) : 0u),
                     "view f64 != oracle", i);
        } else if (!keep) {
          FUZZ_CHECK(load<uint16_t>(yout) == 0, "view: a dropped 16-bit element is not +0", i);
        } else if (c.half_is_bf16) {
          const float want = from_bf16(load<uint16_t>(xin)) * rule.scale;
          if (!std::isnan(want)) FUZZ_CHECK(load<uint16_t>(yout) == to_bf16(want), "view bf16 != oracle", i);
        }
        break;
      }
      case op_forward_channels: {
        // Element i of the data: its decision d = n * channels + ch.
        size_t d;
        if (c.channels_last) {
          d = (i / (c.spatial * c.channels)) * c.channels + i % c.channels;
        } else {
          d = i / c.spatial;
        }
        const bool keep = oracle_keep(rule, c.params.offset + d);
        const uint32_t want = keep ? bits_of(load<float>(before + x->where.at + 4 * i) * rule.scale) : 0u;
        FUZZ_CHECK(load<uint32_t>(after + y->where.at + 4 * i) == want, "channel dropout output != oracle", i);
        if (mask_written)
          FUZZ_CHECK(bool((after[mask->where.at + d / 8] >> (d % 8)) & 1) == keep, "channel mask bit != oracle", i);
        break;
      }
      case op_bias_dropout_add: {
        if (c.cols == 0) break;
        const buffer* bias = find(c, "bias");
        const buffer* residual = find(c, "residual");
        const bool keep = oracle_keep(rule, g);
        const float xv = load<float>(before + x->where.at + 4 * i);
        const float bv = load<float>(before + bias->where.at + 4 * (i % c.cols));
        const float rv = load<float>(before + residual->where.at + 4 * i);
        const float got = load<float>(after + y->where.at + 4 * i);
        if (!keep) {
          FUZZ_CHECK(bits_of(got) == bits_of(rv), "fused: a dropped element is not the residual, bit for bit", i);
        } else {
          const float want = std::fma(xv + bv, rule.scale, rv);
          if (!std::isnan(want)) FUZZ_CHECK(bits_of(got) == bits_of(want), "fused: kept element != fmaf(x + b, s, r)", i);
        }
        if (mask_written)
          FUZZ_CHECK(bool((after[mask->where.at + i / 8] >> (i % 8)) & 1) == keep, "fused mask bit != oracle", i);
        break;
      }
      default: break;
    }
  }
  // Unused bits of the last mask byte are 0.
  if (mask_written && c.n % 8 != 0 && (c.op == op_mask || c.op == op_forward_mask || (c.op >= op_forward_f64 && !is_view_op(c.op)))) {
    const uint8_t last = after[mask->where.at + (c.n - 1) / 8];
    FUZZ_CHECK((last >> (c.n % 8)) == 0, "unused bits of the last mask byte are not 0", last);
  }
}

// ---------------------------------------------------------------------------
// One call: build, run under the chosen implementation, run the reference,
// compare.

void poison_guards(uint8_t* base, size_t size, const call_spec& c, bool poison) {
  if (!poison) {
    UNPOISON(base, size);
    return;
  }
  // Poison everything, then unpoison the spans the call may touch.
  POISON(base, size);
  for (const buffer& b : c.buffers)
    if (!b.is_null && b.bytes) UNPOISON(base + b.where.at, b.bytes);
}

void run_call(byte_reader& in, const runtime_choice& choice) {
  call_spec c;
  const uint8_t op_byte = in.u8();
  const uint8_t op = op_byte >= 240 ? uint8_t(op_forward_view + (op_byte - 240) % op_view_count)
                                    : uint8_t(op_byte % op_count);
  c.op = op;

  if (op == op_philox) {
    uint32_t ctr[4], key[2], got[4], want[4];
    for (uint32_t& v : ctr) v = in.u32();
    for (uint32_t& v : key) v = in.u32();
    simdrop_philox4x32_10(ctr, key, got);
    oracle_philox(ctr, key, want);
    FUZZ_CHECK(std::memcmp(got, want, sizeof got) == 0, "simdrop_philox4x32_10 != literal Philox4x32-10");
    return;
  }
  if (op == op_status_string) {
    const int status = int(in.u32());
    const char* s = simdrop_status_string(status);
    FUZZ_CHECK(s && *s, "simdrop_status_string gave NULL or empty", status);
    return;
  }

  // Parameters.
  const uint8_t flags = in.u8();
  c.null_params = flags == 0xFF;
  float keep_prob = pick_keep_prob(in);
  c.generator_raw = pick_generator(in);
  c.bits_raw = pick_threshold_bits(in);
  c.params = simdrop_params_default(0.5f, 0);
  c.params.keep_prob = keep_prob;
  c.params.seed = pick_u64(in);
  c.params.stream = pick_u64(in);
  // The enum field holds the raw integer, as a C caller could store it (never
  // converted to simdrop_generator in this file).
  static_assert(sizeof(c.params.generator) == sizeof(uint32_t), "simdrop_generator is 32 bits");
  std::memcpy(&c.params.generator, &c.generator_raw, sizeof(uint32_t));
  c.params.threshold_bits = c.bits_raw;

  size_t arena_bytes = 0;
  uint64_t elements = 0;
  const bool cheap_op = op <= op_fill;
  switch (op) {
    case op_forward_2d:
    case op_backward_2d:
    case op_forward_view:
    case op_backward_view:
    case op_mask_view:
    case op_bias_dropout_add: {
      c.rows = in.u8() % 40;
      c.cols = in.u16() % 300;
      if ((flags & 0x0F) == 0) c.rows = size_t(1) << (in.u8() % 64);  // rows * cols may overflow
      const size_t max_elems = 4500;
      const bool sane = c.cols == 0 || c.rows <= max_elems / (c.cols ? c.cols : 1);
      const size_t rows_alloc = sane ? c.rows : 0;
      for (int i = 0; i < 3; ++i) {
        const uint8_t m = in.u8();
        const size_t row = i == 2 ? (c.cols + 7) / 8 : c.cols;
        c.ld[i] = m < 200 ? row + m % 9 : (m < 240 ? (row ? row - 1 - m % (row) : 0) : in.u16());
      }
      if (op == op_bias_dropout_add) c.ld[0] = c.ld[1] = c.cols, c.ld[2] = (c.cols + 7) / 8;
      elements = uint64_t(c.rows) * c.cols;
      if (c.cols != 0 && elements / c.cols != c.rows) elements = ~uint64_t(0);  // flagged by predict
      c.index_ld = c.cols;
      if (is_view_op(op)) {
        // The element type, and an index row stride: mostly at least cols,
        // now and then shorter (an error) or huge (an index past 2^64).
        const uint8_t type = in.u8(), m = in.u8();
        c.elem = type % 4 == 0 ? 4 : type % 4 == 1 ? 8 : 2;
        c.half_is_bf16 = type % 4 == 2;
        c.index_ld = m < 200 ? c.cols + uint64_t(m % 10) * (m % 3 == 0 ? 1 : 37)
                     : m < 230 ? (c.cols ? c.cols - 1 - m % c.cols : 0)
                               : pick_u64(in);
        // The span of the view's global indices (the index-overflow rule).
        if (c.rows != 0 && c.cols != 0 && elements != ~uint64_t(0)) {
          const uint64_t rows_before = c.rows - 1;
          elements = rows_before != 0 && c.index_ld > (~uint64_t(0) - c.cols) / rows_before
                         ? ~uint64_t(0)
                         : rows_before * c.index_ld + c.cols;
        }
      }
      c.n = sane ? rows_alloc * c.cols : 0;
      const size_t xs = view_span(rows_alloc, c.ld[0], c.cols) * c.elem,
                   ys = view_span(rows_alloc, c.ld[1], c.cols) * c.elem;
      if (op == op_mask_view) {
        c.buffers.push_back(make_buffer("mask", 1, view_span(rows_alloc, c.ld[2], (c.cols + 7) / 8), true, true));
      } else if (op == op_bias_dropout_add) {
        const size_t mask_bytes = (c.n + 7) / 8;
        c.buffers.push_back(make_buffer("x", 4, c.n * 4, false, true));
        c.buffers.push_back(make_buffer("bias", 4, c.cols * 4, false, true));
        c.buffers.push_back(make_buffer("residual", 4, c.n * 4, false, true));
        c.buffers.push_back(make_buffer("y", 4, c.n * 4, true, true));
        c.buffers.push_back(make_buffer("mask", 1, mask_bytes, true, false));
      } else {
        c.buffers.push_back(make_buffer("x", c.elem, xs, false, true));
        c.buffers.push_back(make_buffer("y", c.elem, ys, true, true));
        if (op == op_forward_2d || op == op_forward_view)
          c.buffers.push_back(make_buffer("mask", 1, view_span(rows_alloc, c.ld[2], (c.cols + 7) / 8), true, false));
      }
      choose_layout(in, c, &arena_bytes);
      break;
    }
    case op_forward_channels: {
      c.batch = in.u8() % 12;
      c.channels = in.u8() % 40;
      c.spatial = in.u8() % 50;
      c.channels_last = (flags & 0x30) == 0x30 ? int(int8_t(in.u8())) : (flags >> 4) & 1;
      elements = uint64_t(c.batch) * c.channels;
      c.n = c.batch * c.channels * c.spatial;
      c.buffers.push_back(make_buffer("x", 4, c.n * 4, false, true));
      c.buffers.push_back(make_buffer("y", 4, c.n * 4, true, true));
      c.buffers.push_back(make_buffer("mask", 1, (elements + 7) / 8, true, false));
      choose_layout(in, c, &arena_bytes);
      break;
    }
    default: {
      c.n = pick_n(in, cheap_op);
      const size_t elem = op >= op_forward_bf16 ? 2 : op >= op_forward_f64 ? 8 : 4;
      const bool mask_out = op == op_forward_mask || op == op_forward_f64 || op == op_forward_bf16 || op == op_forward_f16;
      build_1d(in, c, elem, mask_out, op == op_backward_mask, &arena_bytes);
      elements = c.n;
      break;
    }
  }
  c.params.offset = pick_offset(in, elements);
  if (c.rows != 0 && c.cols != 0 && c.n == 0 && elements != ~uint64_t(0)) {
    // rows x cols too large to allocate: make offset + rows * cols pass 2^64, so
    // that the call must be refused before touching anything.
    if (elements - 1 <= ~uint64_t(0) - c.params.offset) c.params.offset = ~uint64_t(0) - (elements - 1) + 1;
  }

  // The prediction. Element buffers stay naturally aligned unless an error is
  // certain (a misaligned float is the caller's undefined behaviour, not a test).
  expectation e;
  for (int attempt = 0; attempt < 2; ++attempt) {
    e = predict(c, elements);
    if (is_2d_op(op)) {
      const buffer* m = find(c, "mask");
      const bool data = op != op_mask_view;
      if ((data && (c.ld[0] < c.cols || c.ld[1] < c.cols)) || (m && (!m->is_null || !data) && c.ld[2] < (c.cols + 7) / 8) ||
          c.index_ld < c.cols)
        e.add(SIMDROP_ERR_LEADING_DIM, elements != 0 && c.rows > 1);
    }
    if ((is_2d_op(op) || op == op_bias_dropout_add) && elements == ~uint64_t(0))
      e.add(SIMDROP_ERR_INDEX_OVERFLOW, true);
    if (op == op_forward_channels && c.channels_last != 0 && c.channels_last != 1)
      e.add(SIMDROP_ERR_ARGUMENT, elements != 0);
    if (e.must_fail) break;
    for (buffer& b : c.buffers) b.where.at -= b.where.at % b.elem;
  }
  for (buffer& b : c.buffers) {
    b.written.clear();
    if (!b.output || b.is_null || !b.bytes) continue;
    const bool is_mask = std::strcmp(b.name, "mask") == 0;
    if (is_2d_op(op)) {
      const size_t unit = is_mask ? 1 : c.elem;
      const size_t ld = is_mask ? c.ld[2] : c.ld[1], row = is_mask ? (c.cols + 7) / 8 : c.cols * unit;
      for (size_t r = 0; r < c.rows && c.n != 0; ++r) b.written.push_back({b.where.at + r * ld * unit, row});
    } else {
      b.written.push_back({b.where.at, b.bytes});
    }
  }

  std::snprintf(current_call.text, sizeof current_call.text,
                "op=%d n=%zu rows=%zu cols=%zu ld={%zu,%zu,%zu} index_ld=%llu elem=%zu%s batch=%zu ch=%zu sp=%zu "
                "cl=%d null_params=%d keep_prob=0x%08x gen=%u bits=%u seed=0x%llx stream=0x%llx offset=0x%llx "
                "isa=%s threads=%d",
                c.op, c.n, c.rows, c.cols, c.ld[0], c.ld[1], c.ld[2], (unsigned long long)c.index_ld, c.elem,
                c.half_is_bf16 ? " bf16" : "", c.batch, c.channels, c.spatial,
                c.channels_last, int(c.null_params), bits_of(c.params.keep_prob), c.generator_raw, c.bits_raw,
                (unsigned long long)c.params.seed, (unsigned long long)c.params.stream,
                (unsigned long long)c.params.offset, choice.isa, choice.threads);

  // Arenas: under test, reference, and the original.
  static arena tested, reference;
  static std::vector<uint8_t> original;
  tested.reset(arena_bytes);
  fill_inputs(tested.base, c, in.u64());
  // Guard bytes get a recognisable pattern (they are compared, not trusted to be 0).
  original.assign(tested.base, tested.base + arena_bytes);
  std::vector<uint8_t> inside(arena_bytes, 0);
  for (const buffer& b : c.buffers)
    if (!b.is_null && b.bytes) std::memset(inside.data() + b.where.at, 1, b.bytes);
  for (size_t i = 0; i < arena_bytes; ++i)
    if (!inside[i]) original[i] = tested.base[i] = uint8_t(0xA5 ^ i);

  apply(choice);
  poison_guards(tested.base, arena_bytes, c, true);
  const int status = invoke(tested.base, c);
  poison_guards(tested.base, arena_bytes, c, false);
  static const bool verbose = std::getenv("SIMDROP_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "status %d (must fail %d, allowed 0x%x): %s\n", status, int(e.must_fail), e.allowed, current_call.text);

  if (status != SIMDROP_OK) {
    FUZZ_CHECK(status > 0 && status < 32 && (e.allowed >> status) & 1, "returned an error that does not apply",
               status);
    FUZZ_CHECK(std::memcmp(tested.base, original.data(), arena_bytes) == 0, "an error return wrote bytes", status);
    return;
  }
  FUZZ_CHECK(!e.must_fail, "succeeded where a documented error applies", (long long)e.allowed);
  // The implementation that really ran: the forced one, or the detected one under "auto".
  if (c.op <= op_fill && elements > 0) {
    const char* expected_isa = std::strcmp(choice.isa, "auto") == 0 ? simdrop_active_isa() : choice.isa;
    FUZZ_CHECK(std::strcmp(simdrop_last_call_isa(), expected_isa) == 0, "the call did not run on the chosen implementation");
  }

  // Nothing outside the documented outputs changed.
  std::vector<uint8_t> writable(arena_bytes, 0);
  for (const buffer& b : c.buffers)
    for (const region& r : b.written) std::memset(writable.data() + r.at, 1, r.bytes);
  for (size_t i = 0; i < arena_bytes; ++i)
    if (!writable[i] && tested.base[i] != original[i]) fail("a byte outside the outputs changed", (long long)i);

  // The reference: scalar, one thread, same layout on a copy.
  reference.reset(arena_bytes);
  std::memcpy(reference.base, original.data(), arena_bytes);
  apply(runtime_choice{"scalar", 1});
  const int ref_status = invoke(reference.base, c);
  FUZZ_CHECK(ref_status == SIMDROP_OK, "the scalar reference failed where the tested call succeeded", ref_status);
  for (size_t i = 0; i < arena_bytes; ++i)
    if (tested.base[i] != reference.base[i]) fail("output differs from the scalar reference at arena byte", (long long)i);

  // Inputs are read from the arena as it was before the call, so in-place calls are sampled too.
  check_samples(c, original.data(), tested.base, c.params.seed ^ c.n);
}

// Process-wide switches chosen from the bytes for the call under test.
runtime_choice pick_runtime(byte_reader& in) {
  runtime_choice r;
  const uint8_t isa = in.u8();
  const size_t count = simdrop_isa_count();
  if (isa >= 0x40) {
    const char* name = simdrop_isa_name(isa % (count + 1));
    if (name && simdrop_isa_supported(name)) r.isa = name;
  }
  const uint8_t threads = in.u8();
  r.threads = threads % 8 < 5 ? threads % 8 : 0;
  return r;
}

// Bad names and thread counts: refused with their own errors, nothing changed.
void check_switch_errors(byte_reader& in) {
  static const char* const names[] = {"", "AVX2", "sse2", "avx512f", "auto ", "scalar\n", "neon", "avx2", "avx512", nullptr};
  const uint8_t which = in.u8();
  const char* name = names[which % 10];
  const char* before = simdrop_active_isa();
  const int threads_before = simdrop_get_num_threads();
  const int status = simdrop_set_isa(name);
  const bool known = name && (!std::strcmp(name, "neon") || !std::strcmp(name, "avx2") || !std::strcmp(name, "avx512"));
  if (known) {
    const bool supported = simdrop_isa_supported(name);
    FUZZ_CHECK(status == (supported ? SIMDROP_OK : SIMDROP_ERR_UNSUPPORTED_ISA), "set_isa status of a known name",
               status);
    if (!supported) FUZZ_CHECK(std::strcmp(before, simdrop_active_isa()) == 0, "refused set_isa changed the ISA");
  } else {
    FUZZ_CHECK(status == SIMDROP_ERR_UNKNOWN_ISA, "set_isa of an unknown name", status);
    FUZZ_CHECK(std::strcmp(before, simdrop_active_isa()) == 0, "refused set_isa changed the ISA");
  }
  const int bad = -1 - int(in.u8());
  FUZZ_CHECK(simdrop_set_num_threads(bad) == SIMDROP_ERR_NUM_THREADS, "set_num_threads(<0) accepted", bad);
  FUZZ_CHECK(simdrop_get_num_threads() == threads_before, "refused set_num_threads changed the value");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  byte_reader in(data, size);
  // Each input starts from the same process-wide state, so it replays alone.
  apply(runtime_choice{});
  for (int call = 0; call < 8 && !in.empty(); ++call) {
    const uint8_t kind = in.u8();
    if (kind == 0xEE) {
      check_switch_errors(in);
      continue;
    }
    const runtime_choice choice = pick_runtime(in);
    run_call(in, choice);
  }
  apply(runtime_choice{});
  return 0;
}
