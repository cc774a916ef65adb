/* An outside C99 program that embeds simdrop through its CMake package
 * (find_package or add_subdirectory): it must compile against the public
 * header alone, link simdrop::simdrop and compute real results. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "simdrop/simdrop.h"

static int failures = 0;

static void expect(int ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "consumer.c: FAILED: %s\n", what);
    ++failures;
  }
}

int main(void) {
  /* Random123's known answers for philox4x32 with 10 rounds: all zeros, digits of pi. */
  const uint32_t zero_ctr[4] = {0, 0, 0, 0}, zero_key[2] = {0, 0};
  const uint32_t zero_out[4] = {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u};
  const uint32_t pi_ctr[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u};
  const uint32_t pi_key[2] = {0xa4093822u, 0x299f31d0u};
  const uint32_t pi_out[4] = {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u};
  uint32_t out[4];
  simdrop_philox4x32_10(zero_ctr, zero_key, out);
  expect(memcmp(out, zero_out, sizeof out) == 0, "philox4x32_10 all-zero known answer");
  simdrop_philox4x32_10(pi_ctr, pi_key, out);
  expect(memcmp(out, pi_out, sizeof out) == 0, "philox4x32_10 digits-of-pi known answer");

#if defined(SIMDROP_EXPECTED_VERSION_MAJOR)
  expect(SIMDROP_VERSION_MAJOR == SIMDROP_EXPECTED_VERSION_MAJOR &&
             SIMDROP_VERSION_MINOR == SIMDROP_EXPECTED_VERSION_MINOR &&
             SIMDROP_VERSION_PATCH == SIMDROP_EXPECTED_VERSION_PATCH,
         "header version matches the CMake package version");
#endif

  {
    enum { n = 1000 };
    static float x[n], y[n];
    static uint8_t mask[(n + 7) / 8];
    /* keep_prob 0.75 with 32-bit thresholds: T = 0.75 * 2^32 exactly, s = 4/3 rounded to float. */
    const float scale = (float)(4294967296.0 / 3221225472.0);
    simdrop_params p = simdrop_params_default(0.75f, 42);
    size_t i, kept = 0;
    int consistent = 1;
    for (i = 0; i < n; ++i) x[i] = (float)i - 500.25f;
    expect(simdrop_forward_f32(x, y, n, &p, mask) == SIMDROP_OK, "simdrop_forward_f32 succeeds");
    for (i = 0; i < n; ++i) {
      const int bit = (mask[i / 8] >> (i % 8)) & 1;
      const float expected = bit ? x[i] * scale : 0.0f;
      kept += (size_t)bit;
      if (memcmp(&y[i], &expected, sizeof expected) != 0) consistent = 0;
    }
    expect(consistent, "kept elements are x * s, dropped ones +0, as the mask says");
    /* Binomial(1000, 0.75): mean 750, sd 13.7; +-100 is over 7 sd. */
    expect(kept > 650 && kept < 850, "keep rate near 0.75");

    p.keep_prob = 1.5f;
    memset(y, 0x5A, sizeof y);
    expect(simdrop_forward_f32(x, y, n, &p, NULL) == SIMDROP_ERR_KEEP_PROB, "keep_prob 1.5 is rejected");
    expect(y[0] != 0.0f && y[n - 1] != 0.0f, "a rejected call writes nothing");
  }

  expect(simdrop_status_string(SIMDROP_ERR_KEEP_PROB)[0] != '\0', "status strings are not empty");
  expect(simdrop_active_isa() != NULL && simdrop_active_isa()[0] != '\0', "an implementation is active");
  expect(simdrop_set_isa("no such isa") == SIMDROP_ERR_UNKNOWN_ISA, "unknown ISA names are rejected");

  printf("consumer.c: simdrop %d.%d.%d, implementation %s: %s\n", SIMDROP_VERSION_MAJOR, SIMDROP_VERSION_MINOR,
         SIMDROP_VERSION_PATCH, simdrop_active_isa(), failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
