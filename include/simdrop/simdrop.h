/* simdrop: fused, deterministic inverted dropout on the CPU -- the C API.
 *
 * This header is the stable surface every runtime embeds. It is valid C99 and
 * C++ and carries no instruction-set specific code; the kernels live in the
 * library and are chosen at run time.
 *
 * The keep/drop decision of element i of a call is a pure function of
 * (generator, seed, stream, offset + i, threshold_bits, keep_prob): see
 * docs/stream.md for the exact formulas. Results are bit-identical across
 * instruction sets, thread counts, pointer alignment and how a tensor is split
 * into calls.
 *
 * Error behaviour (every call returning int): SIMDROP_OK (0) on success, or one
 * of the named nonzero statuses below, in which case nothing was written.
 * A call with n == 0 is a no-op that succeeds even with NULL data pointers, as
 * long as the parameters themselves are valid.
 */
#ifndef SIMDROP_SIMDROP_H
#define SIMDROP_SIMDROP_H

#include <stddef.h>
#include <stdint.h>

#include "simdrop/export.h"
#include "simdrop/version.h" /* SIMDROP_VERSION_MAJOR/MINOR/PATCH/STRING, generated from CMake's project version */

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes. 0 is success; every error has its own value. */
enum {
  SIMDROP_OK = 0,
  SIMDROP_ERR_NULL_PARAMS = 1,     /* the simdrop_params pointer is NULL */
  SIMDROP_ERR_KEEP_PROB = 2,       /* keep_prob is NaN, infinite, < 0 or > 1 */
  SIMDROP_ERR_THRESHOLD_BITS = 3,  /* threshold_bits is not 8, 16 or 32 */
  SIMDROP_ERR_GENERATOR = 4,       /* generator is not a simdrop_generator value */
  SIMDROP_ERR_NULL_POINTER = 5,    /* a required data pointer is NULL while n > 0 */
  SIMDROP_ERR_INDEX_OVERFLOW = 6,  /* offset + n exceeds 2^64 (or a size product overflows) */
  SIMDROP_ERR_OVERLAP = 7,         /* buffers overlap other than exact in-place aliasing */
  SIMDROP_ERR_UNKNOWN_ISA = 8,     /* simdrop_set_isa: name is not a known implementation */
  SIMDROP_ERR_UNSUPPORTED_ISA = 9, /* simdrop_set_isa: known, but this CPU/build cannot run it */
  SIMDROP_ERR_NUM_THREADS = 10,    /* simdrop_set_num_threads: n < 0 */
  SIMDROP_ERR_LEADING_DIM = 11,    /* a leading dimension is smaller than the row it holds */
  SIMDROP_ERR_ARGUMENT = 12        /* another argument is outside its documented range */
};

typedef enum simdrop_generator {
  SIMDROP_PHILOX4X32_10 = 0, /* Random123's philox4x32, 10 rounds, 16 counters per group */
  SIMDROP_XOSHIRO128PP = 1   /* 16 xoshiro128++ lanes per 4096-word tile, seeded by Philox */
} simdrop_generator;

typedef struct simdrop_params {
  float keep_prob;   /* probability of keeping an element, in [0, 1] */
  uint64_t seed;     /* Philox key */
  uint64_t stream;   /* independent stream (e.g. layer id and step), counter words 2 and 3 */
  uint64_t offset;   /* global index of element 0 of the call */
  simdrop_generator generator;
  uint32_t threshold_bits; /* 32, 16 or 8 (docs/stream.md: the decision layout of each) */
} simdrop_params;

/* keep_prob and seed as given; Philox, 16-bit threshold, stream 0, offset 0.
 * (Up to 0.1.x the default width was 32 bits: set threshold_bits = 32 for those masks.) */
SIMDROP_API simdrop_params simdrop_params_default(float keep_prob, uint64_t seed);

/* The library's version, "MAJOR.MINOR.PATCH": that of the library loaded at run
 * time, where SIMDROP_VERSION_STRING is that of the header compiled against. */
SIMDROP_API const char* simdrop_version(void);

/* y[i] = keep(i) ? x[i] * s : +0.0f. mask may be NULL; otherwise it receives
 * ceil(n / 8) bytes: bit i % 8 of byte i / 8 is 1 iff element i is kept, unused
 * bits of the last byte are 0. x == y (in place) is allowed; any other overlap
 * among x, y and mask is SIMDROP_ERR_OVERLAP. */
SIMDROP_API int simdrop_forward_f32(const float* x, float* y, size_t n, const simdrop_params* p,
                                    uint8_t* mask);

/* dx[i] = keep(i) ? dy[i] * s : +0.0f, regenerating the decisions from p (which must
 * be the parameters of the forward call). dy == dx is allowed. */
SIMDROP_API int simdrop_backward_f32(const float* dy, float* dx, size_t n, const simdrop_params* p);

/* dx[i] = bit i of mask ? dy[i] * s : +0.0f, where s comes from p->keep_prob and
 * p->threshold_bits (seed, stream, offset and generator are validated but unused). */
SIMDROP_API int simdrop_backward_mask_f32(const float* dy, const uint8_t* mask, float* dx, size_t n,
                                          const simdrop_params* p);

/* Only the mask bits of a forward call: ceil(n / 8) bytes as above. */
SIMDROP_API int simdrop_mask(uint8_t* mask, size_t n, const simdrop_params* p);

/* words[i] = W[offset + i], the raw 32-bit word stream of the generator
 * (keep_prob and threshold_bits are validated but do not affect the words). */
SIMDROP_API int simdrop_fill_u32(uint32_t* words, size_t n, const simdrop_params* p);

/* Random123's philox4x32 with 10 rounds, bit-exact. Never fails. */
SIMDROP_API void simdrop_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* A short English description of a status; never NULL or empty (unknown values
 * give "unknown simdrop status"). */
SIMDROP_API const char* simdrop_status_string(int status);

/* Forces an implementation: "scalar", "avx2", "avx512", "neon", or "auto" to go
 * back to detection. Process-wide; safe to call while other threads compute
 * (a call in flight finishes on the implementation it started with).
 * SIMDROP_ERR_UNKNOWN_ISA for a name that is none of these (or NULL),
 * SIMDROP_ERR_UNSUPPORTED_ISA for one this CPU or build cannot run. */
SIMDROP_API int simdrop_set_isa(const char* name);

/* The name of the implementation calls use now ("scalar", "avx2", "avx512", "neon"). */
SIMDROP_API const char* simdrop_active_isa(void);

/* The implementation that ran the calling thread's last successful data call
 * (forward, backward, mask, fill and the runtime calls), or "" before the first.
 * A diagnostic for profiling: it shows what really ran, not what is configured. */
SIMDROP_API const char* simdrop_last_call_isa(void);

/* Number of OpenMP threads one call may use; 0 returns to OpenMP's default
 * (OMP_NUM_THREADS / omp_set_num_threads). A nonzero value here wins over
 * OMP_NUM_THREADS. Process-wide and thread-safe. SIMDROP_ERR_NUM_THREADS if n < 0. */
SIMDROP_API int simdrop_set_num_threads(int n);

/* The value last set by simdrop_set_num_threads (0 = OpenMP's default). */
SIMDROP_API int simdrop_get_num_threads(void);

/* The implementations compiled into this build, best first (on x86-64:
 * "avx512", "avx2", "scalar"; on aarch64: "neon", "scalar"). */
SIMDROP_API size_t simdrop_isa_count(void);
/* Name of implementation i, or NULL when i >= simdrop_isa_count(). */
SIMDROP_API const char* simdrop_isa_name(size_t i);
/* 1 if `name` is compiled in and this CPU and OS can run it, else 0. */
SIMDROP_API int simdrop_isa_supported(const char* name);

/* ---- Runtime-facing calls: 2-D views, channels, fused residual, other types ----
 * Same error rules as above, plus SIMDROP_ERR_LEADING_DIM for a leading
 * dimension smaller than the row it holds, and SIMDROP_ERR_INDEX_OVERFLOW when
 * offset + rows*cols (or batch*channels) overflows. */

/* 2-D views: element (r, c) has global index offset + r*cols + c, whatever the strides. */
SIMDROP_API int simdrop_forward_2d_f32(const float* x, size_t ldx, float* y, size_t ldy, size_t rows,
                                       size_t cols, const simdrop_params* p, uint8_t* mask,
                                       size_t ldmask /* bit c%8 of byte r*ldmask + c/8 */);
SIMDROP_API int simdrop_backward_2d_f32(const float* dy, size_t lddy, float* dx, size_t lddx, size_t rows,
                                        size_t cols, const simdrop_params* p);
/* Views with their own index row stride, for a shard of a larger tensor:
 * element (r, c) of the view has global index offset + r*index_ld + c, with
 * index_ld >= cols (index_ld == cols numbers as the 2-D calls above). A shard
 * holding columns c0 .. c0 + cols - 1 of a rows x global_cols tensor passes
 * index_ld = global_cols and offset = base + c0 (see docs/distributed.md), and
 * gets exactly its part of the single-process decisions. Data rows are ldx /
 * ldy elements apart (>= cols), mask rows ldmask bytes apart
 * (>= ceil(cols / 8), bit c % 8 of byte r*ldmask + c/8; mask may be NULL).
 * Kept: y = x * s for f32, x * (double)(2^bits / T) for f64, the rounded
 * (float)x * s for bf16 and f16, as in the 1-D calls. Errors as the 2-D calls:
 * SIMDROP_ERR_LEADING_DIM when a leading dimension (index_ld included) is
 * smaller than its row, SIMDROP_ERR_INDEX_OVERFLOW when
 * offset + (rows-1)*index_ld + cols exceeds 2^64 (or a size overflows). The
 * backward forms regenerate the forward decisions; simdrop_mask_view writes
 * the mask alone. */
SIMDROP_API int simdrop_forward_view_f32(const float* x, size_t ldx, float* y, size_t ldy, size_t rows, size_t cols,
                                         uint64_t index_ld, const simdrop_params* p, uint8_t* mask, size_t ldmask);
SIMDROP_API int simdrop_backward_view_f32(const float* dy, size_t lddy, float* dx, size_t lddx, size_t rows,
                                          size_t cols, uint64_t index_ld, const simdrop_params* p);
SIMDROP_API int simdrop_forward_view_f64(const double* x, size_t ldx, double* y, size_t ldy, size_t rows,
                                         size_t cols, uint64_t index_ld, const simdrop_params* p, uint8_t* mask,
                                         size_t ldmask);
SIMDROP_API int simdrop_backward_view_f64(const double* dy, size_t lddy, double* dx, size_t lddx, size_t rows,
                                          size_t cols, uint64_t index_ld, const simdrop_params* p);
SIMDROP_API int simdrop_forward_view_bf16(const uint16_t* x, size_t ldx, uint16_t* y, size_t ldy, size_t rows,
                                          size_t cols, uint64_t index_ld, const simdrop_params* p, uint8_t* mask,
                                          size_t ldmask);
SIMDROP_API int simdrop_backward_view_bf16(const uint16_t* dy, size_t lddy, uint16_t* dx, size_t lddx, size_t rows,
                                           size_t cols, uint64_t index_ld, const simdrop_params* p);
SIMDROP_API int simdrop_forward_view_f16(const uint16_t* x, size_t ldx, uint16_t* y, size_t ldy, size_t rows,
                                         size_t cols, uint64_t index_ld, const simdrop_params* p, uint8_t* mask,
                                         size_t ldmask);
SIMDROP_API int simdrop_backward_view_f16(const uint16_t* dy, size_t lddy, uint16_t* dx, size_t lddx, size_t rows,
                                          size_t cols, uint64_t index_ld, const simdrop_params* p);
SIMDROP_API int simdrop_mask_view(uint8_t* mask, size_t ldmask, size_t rows, size_t cols, uint64_t index_ld,
                                  const simdrop_params* p);

/* Channel (spatial) dropout: one decision per (n, c) at global index offset + n*channels + c,
 * applied to all `spatial` positions; layout NCHW-like (channels_last = 0) or NHWC-like
 * (channels_last = 1). mask: bit n*channels + c. */
SIMDROP_API int simdrop_forward_channels_f32(const float* x, float* y, size_t batch, size_t channels,
                                             size_t spatial, int channels_last, const simdrop_params* p,
                                             uint8_t* mask);
/* Fused: y = residual + dropout(x + bias); bias has `cols` entries, broadcast over rows;
 * contiguous rows. Kept: y = fmaf(x + bias, s, residual); dropped: y = residual, bit for bit. */
SIMDROP_API int simdrop_bias_dropout_add_f32(const float* x, const float* bias, const float* residual,
                                             float* y, size_t rows, size_t cols, const simdrop_params* p,
                                             uint8_t* mask);
/* Other element types; decisions and mask are those of f32 at the same global index.
 * f64: kept y = x * (double)(2^bits / T). bf16 and f16 (IEEE half), stored as uint16_t:
 * kept y = round-to-nearest-even of (float)x * s with s the f32 scale; dropped = +0. */
SIMDROP_API int simdrop_forward_f64(const double* x, double* y, size_t n, const simdrop_params* p,
                                    uint8_t* mask);
SIMDROP_API int simdrop_backward_f64(const double* dy, double* dx, size_t n, const simdrop_params* p);
SIMDROP_API int simdrop_forward_bf16(const uint16_t* x, uint16_t* y, size_t n, const simdrop_params* p,
                                     uint8_t* mask);
SIMDROP_API int simdrop_backward_bf16(const uint16_t* dy, uint16_t* dx, size_t n, const simdrop_params* p);
SIMDROP_API int simdrop_forward_f16(const uint16_t* x, uint16_t* y, size_t n, const simdrop_params* p,
                                    uint8_t* mask);
SIMDROP_API int simdrop_backward_f16(const uint16_t* dy, uint16_t* dx, size_t n, const simdrop_params* p);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SIMDROP_SIMDROP_H */
