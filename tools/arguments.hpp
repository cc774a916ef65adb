// The command line of the simdrop tool: flags and their values, read strictly.
// Every mistake (an unknown flag, a missing value, a number that is not one or
// is out of range) throws usage_error, which main() turns into exit status 2,
// one line on stderr and the usage, before anything is written to stdout.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "simdrop/simdrop.h"

namespace simdrop_cli {

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A failure at run time (a library status, a write error): exit status 1.
struct runtime_failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The flags after the subcommand. A flag is "--name value" or "--name=value";
// a switch is "--name" alone. take_* remove what they read; finish() rejects
// whatever is left, so a flag the subcommand does not know is an error.
class arguments {
 public:
  explicit arguments(std::vector<std::string> words);

  bool take_switch(const char* name);
  // The flag's value, or false when the flag is absent. The last one wins.
  bool take_value(const char* name, std::string* value);
  void finish() const;

 private:
  std::vector<std::string> words_;
};

// Unsigned 64-bit, decimal or 0x hex, nothing else (no sign, no spaces).
uint64_t parse_u64(const std::string& flag, const std::string& text);
// As parse_u64, within [low, high].
uint64_t parse_u64_in(const std::string& flag, const std::string& text, uint64_t low, uint64_t high);
// A keep probability: a finite decimal number in [0, 1].
float parse_keep_prob(const std::string& flag, const std::string& text);
// "philox" or "xoshiro".
simdrop_generator parse_generator(const std::string& flag, const std::string& text);
// 8, 16 or 32.
uint32_t parse_threshold_bits(const std::string& flag, const std::string& text);

const char* generator_name(simdrop_generator generator);

// The common flags of stream and hash (--generator, --seed, --stream,
// --offset, --threshold-bits) on top of simdrop_params_default.
simdrop_params take_stream_params(arguments& args, float keep_prob);

}  // namespace simdrop_cli
