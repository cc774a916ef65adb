/* The C API used from C99: simdrop_params_default, a forward / backward /
 * backward_mask / mask / fill_u32 round trip that must agree with itself and
 * with the contract's 32-bit Philox decision rule (keep iff W[g] < T), and one
 * error. Prints what failed and returns nonzero on failure. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "simdrop/simdrop.h"

static int failures = 0;

#define EXPECT(cond)                                                 \
  do {                                                               \
    if (!(cond)) {                                                   \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                    \
    }                                                                \
  } while (0)

#define N 1000

static uint32_t bits_of(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

int main(void) {
  static float x[N], y[N], dx[N], dx_mask[N];
  static uint8_t mask[(N + 7) / 8], mask_only[(N + 7) / 8];
  static uint32_t words[N];
  const float keep_prob = 0.75f;
  simdrop_params p = simdrop_params_default(keep_prob, 20240501u);
  double threshold;
  float scale;
  size_t i, kept = 0;
  int status;

  EXPECT(p.keep_prob == keep_prob);
  EXPECT(p.seed == 20240501u);
  EXPECT(p.stream == 0 && p.offset == 0);
  EXPECT(p.generator == SIMDROP_PHILOX4X32_10);
  EXPECT(p.threshold_bits == 16); /* the default since 0.2.0 */

  for (i = 0; i < N; ++i) x[i] = (float)i * 0.5f - 100.0f;
  p.offset = 4093;        /* starts in the middle of a Philox group */
  p.threshold_bits = 32;  /* the width the check below computes: word < T, one word per element */

  EXPECT(simdrop_forward_f32(x, y, N, &p, mask) == SIMDROP_OK);
  EXPECT(simdrop_backward_f32(x, dx, N, &p) == SIMDROP_OK);
  EXPECT(simdrop_backward_mask_f32(x, mask, dx_mask, N, &p) == SIMDROP_OK);
  EXPECT(simdrop_mask(mask_only, N, &p) == SIMDROP_OK);
  EXPECT(simdrop_fill_u32(words, N, &p) == SIMDROP_OK);

  /* T = floor(keep_prob * 2^32 + 0.5) and s = (float)(2^32 / T), in double. */
  threshold = floor((double)keep_prob * 4294967296.0 + 0.5);
  scale = (float)(4294967296.0 / threshold);
  for (i = 0; i < N; ++i) {
    const int keep = (double)words[i] < threshold;
    const int bit = (mask[i / 8] >> (i % 8)) & 1;
    const float expected = keep ? x[i] * scale : 0.0f;
    kept += (size_t)keep;
    if (bit != keep || bits_of(y[i]) != bits_of(expected) || bits_of(dx[i]) != bits_of(expected) ||
        bits_of(dx_mask[i]) != bits_of(expected)) {
      fprintf(stderr, "element %u: word %u keep %d bit %d y %g dx %g dx_mask %g expected %g\n", (unsigned)i,
              (unsigned)words[i], keep, bit, (double)y[i], (double)dx[i], (double)dx_mask[i], (double)expected);
      ++failures;
      break;
    }
  }
  EXPECT(memcmp(mask, mask_only, sizeof mask) == 0);
  EXPECT(kept > N / 2 && kept < N); /* about 750 of 1000 */

  /* One error: keep_prob > 1 is rejected and nothing is written. */
  {
    float before[N];
    memcpy(before, y, sizeof before);
    p.keep_prob = 1.5f;
    status = simdrop_forward_f32(x, y, N, &p, NULL);
    EXPECT(status == SIMDROP_ERR_KEEP_PROB);
    EXPECT(memcmp(before, y, sizeof before) == 0);
    EXPECT(simdrop_status_string(status) != NULL && simdrop_status_string(status)[0] != '\0');
  }

  if (failures) {
    fprintf(stderr, "test_c_api: %d check(s) failed\n", failures);
    return 1;
  }
  printf("test_c_api: all checks passed (%u of %u kept, implementation %s)\n", (unsigned)kept, (unsigned)N,
         simdrop_active_isa());
  return 0;
}
