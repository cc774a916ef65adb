/* testu01_stdin: runs one TestU01 battery on the 32-bit little-endian words
 * read from stdin, the way PractRand's `RNG_test stdin32` and dieharder's
 * `-g 200` read `simdrop stream`. Not part of the build or the tests: TestU01
 * is not in Debian's main archive, so it is built by hand (docs/quality.md
 * gives the commands), and so is this file:
 *
 *   gcc -O2 -Wall -Wextra -o testu01_stdin tools/quality/testu01_stdin.c \
 *       -I<testu01>/inst/include -L<testu01>/inst/lib -ltestu01 -lprobdist -lmylib -lm
 *   simdrop stream --generator philox --seed 0x5eed | ./testu01_stdin crush
 *
 * Usage: testu01_stdin small|crush|big [reverse]. `reverse` reverses the bit
 * order of each word: TestU01's tests read the high bits of each number most,
 * so a run on the reversed words puts the low bits where they look. Exit
 * status 0 after the battery's summary, 1 if stdin ends first, 2 for bad
 * arguments. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "TestU01.h"

static uint32_t words[1 << 16];
static size_t next = 0;
static size_t filled = 0;
static int reverse = 0;

static uint32_t reverse_bits(uint32_t w) {
  w = ((w >> 1) & 0x55555555u) | ((w & 0x55555555u) << 1);
  w = ((w >> 2) & 0x33333333u) | ((w & 0x33333333u) << 2);
  w = ((w >> 4) & 0x0f0f0f0fu) | ((w & 0x0f0f0f0fu) << 4);
  return (w >> 24) | ((w >> 8) & 0xff00u) | ((w << 8) & 0xff0000u) | (w << 24);
}

static unsigned int next_word(void) {
  if (next == filled) {
    filled = fread(words, sizeof words[0], sizeof words / sizeof words[0], stdin);
    next = 0;
    if (filled == 0) {
      fprintf(stderr, "testu01_stdin: stdin ended before the battery did\n");
      exit(1);
    }
  }
  /* Little-endian words, as `simdrop stream` writes them, on any host. */
  const unsigned char *b = (const unsigned char *)&words[next++];
  uint32_t w = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
  return reverse ? reverse_bits(w) : w;
}

static int usage(void) {
  fprintf(stderr, "usage: testu01_stdin small|crush|big [reverse]\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) return usage();
  if (argc == 3) {
    if (strcmp(argv[2], "reverse") != 0) return usage();
    reverse = 1;
  }
  void (*battery)(unif01_Gen *) = NULL;
  if (strcmp(argv[1], "small") == 0) battery = bbattery_SmallCrush;
  else if (strcmp(argv[1], "crush") == 0) battery = bbattery_Crush;
  else if (strcmp(argv[1], "big") == 0) battery = bbattery_BigCrush;
  else return usage();

  char name[] = "stdin32";
  char reversed_name[] = "stdin32, bits reversed";
  unif01_Gen *gen = unif01_CreateExternGenBits(reverse ? reversed_name : name, next_word);
  battery(gen);
  unif01_DeleteExternGenBits(gen);
  return 0;
}
