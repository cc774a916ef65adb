// main() of the `simdrop` command: the usage texts, the subcommand dispatch and
// the exit statuses (0 done, 1 a failure at run time, 2 a usage mistake: one
// line and the usage on stderr, nothing on stdout). The tool calls only the
// public C API (include/simdrop/simdrop.h), so it shows what a user gets.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "commands.hpp"

namespace {

const char* const overview_usage =
    "usage: simdrop <command> [flags]   (simdrop <command> --help for its flags)\n"
    "  info    the build, the implementations, the active one and why, the CPU, the threads\n"
    "  bench   the call's speed next to a copy of the same buffers (the paired roof)\n"
    "  stream  raw 32-bit words (or keep bits) on stdout, for PractRand and dieharder\n"
    "  hash    the SHA-256 of the packed mask bits of N decisions\n";

const char* const info_usage =
    "usage: simdrop info [--json]\n"
    "  --json  the same content as one JSON object\n";

const char* const bench_usage =
    "usage: simdrop bench [--quick] [--json] [--isa NAME] [--threads N] [--size N] [--call NAME]\n"
    "                     [--generator philox|xoshiro] [--threshold-bits 8|16|32]\n"
    "  --quick           forward only, 3 repetitions of >= 0.02 s (seconds, not minutes)\n"
    "  --json            Google Benchmark's JSON shape (context, benchmarks) on stdout\n"
    "  --isa NAME        an implementation this CPU runs (default: the active one)\n"
    "  --threads N       OpenMP threads for the call and its copy (default: 1 and all)\n"
    "  --size N          elements per call; K, M, G multiply by 2^10, 2^20, 2^30\n"
    "                    (default: 32K, in cache, and 64M, out of cache)\n"
    "  --call NAME       forward, forward_mask, backward, backward_mask, mask, fill_u32,\n"
    "                    forward_f64, forward_bf16, forward_f16, bias_dropout_add\n"
    "                    (default: forward, forward_mask, backward_mask, fill_u32)\n"
    "  --generator G     philox or xoshiro (default: both)\n"
    "  --threshold-bits  8, 16 or 32 (default: simdrop_params_default's)\n"
    "  each row: 5 repetitions of >= 0.1 s (or as --quick says), each followed by the copy\n"
    "  roof; the medians\n";

const char* const stream_usage =
    "usage: simdrop stream [--generator philox|xoshiro] [--seed N] [--stream N] [--offset N] [--count N]\n"
    "                      [--what words|keep-bits] [--keep-prob P] [--threshold-bits 8|16|32]\n"
    "                      [--streams K] [--stream-words L]\n"
    "  raw little-endian 32-bit words on stdout; endless without --count (ends when the reader closes)\n"
    "  --what words      W[offset + i] of simdrop_fill_u32 (default)\n"
    "  --what keep-bits  simdrop_mask's bytes for elements offset, offset+1, ... (32 per word),\n"
    "                    at --keep-prob (default 0.5) and --threshold-bits (default: the library's)\n"
    "  --streams K       K streams from --stream interleaved word by word, each from --offset\n"
    "  --stream-words L  L words of each, then the next K streams (default: no end)\n"
    "  numbers: unsigned 64-bit, decimal or 0x hex; --seed, --stream, --offset default to 0\n";

const char* const hash_usage =
    "usage: simdrop hash --n N --keep-prob P [--seed N] [--stream N] [--offset N]\n"
    "                    [--generator philox|xoshiro] [--threshold-bits 8|16|32]\n"
    "  the SHA-256 (hex) of simdrop_mask's ceil(N/8) bytes for those N decisions\n"
    "  numbers: unsigned 64-bit, decimal or 0x hex; --seed, --stream, --offset default to 0\n";

struct command {
  const char* name;
  const char* usage;
  int (*run)(simdrop_cli::arguments&);
};

const command commands[] = {
    {"info", info_usage, simdrop_cli::run_info},
    {"bench", bench_usage, simdrop_cli::run_bench},
    {"stream", stream_usage, simdrop_cli::run_stream},
    {"hash", hash_usage, simdrop_cli::run_hash},
};

int usage_mistake(const std::string& message, const char* usage) {
  std::fprintf(stderr, "simdrop: %s\n%s", message.c_str(), usage);
  return 2;
}

bool is_help(const std::string& word) { return word == "--help" || word == "-h" || word == "help"; }

}  // namespace

int main(int argc, char** argv) {
  // A closed pipe is a normal end for `stream`: see write(2) fail with EPIPE
  // instead of dying of SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  if (argc < 2) return usage_mistake("no command given", overview_usage);
  const std::string name = argv[1];
  if (is_help(name)) return std::fputs(overview_usage, stdout) < 0 ? 1 : 0;
  for (const command& c : commands) {
    if (name != c.name) continue;
    std::vector<std::string> words(argv + 2, argv + argc);
    for (const std::string& word : words)
      if (word == "--help" || word == "-h") return std::fputs(c.usage, stdout) < 0 ? 1 : 0;
    try {
      simdrop_cli::arguments args(std::move(words));
      const int status = c.run(args);
      if (std::fflush(stdout) != 0) throw simdrop_cli::runtime_failure("writing to stdout failed");
      return status;
    } catch (const simdrop_cli::usage_error& e) {
      return usage_mistake(name + ": " + e.what(), c.usage);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "simdrop: %s\n", e.what());
      return 1;
    }
  }
  return usage_mistake("unknown command \"" + name + "\"", overview_usage);
}
