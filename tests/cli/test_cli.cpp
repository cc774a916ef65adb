// Tests of the `simdrop` command, run as a user runs it (a separate process):
// `stream` gives the library's simdrop_fill_u32 words and the independent
// oracle's (tests/support/oracle.hpp), both generators, near 2^32 and 2^64;
// its keep bits and interleaved streams are what they say; `hash` is the
// SHA-256 of the oracle's mask bytes for every generator and width; every
// kind of bad argument exits 2 with nothing on stdout; a closed pipe ends an
// endless stream cleanly. No test looks at a timing.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <string>
#include <vector>

#include "sha256.hpp"
#include "support/oracle.hpp"
#include "support/params.hpp"
#include "tool_runner.hpp"

using simdrop_cli_test::run_shell;
using simdrop_cli_test::run_tool;
using simdrop_cli_test::scratch_path;
using simdrop_cli_test::tool_result;

namespace {

constexpr uint64_t two_to_32 = uint64_t(1) << 32;

Catch::Generators::GeneratorWrapper<simdrop_test::generator_width> every_generator_width() {
  return Catch::Generators::from_range(std::begin(simdrop_test::all_generator_widths),
                                       std::end(simdrop_test::all_generator_widths));
}

const char* generator_flag(simdrop_generator g) { return g == SIMDROP_PHILOX4X32_10 ? "philox" : "xoshiro"; }

std::string stream_flags(const simdrop_params& p) {
  return std::string("--generator ") + generator_flag(p.generator) + " --seed " + std::to_string(p.seed) +
         " --stream " + std::to_string(p.stream) + " --offset " + std::to_string(p.offset);
}

std::vector<uint32_t> library_words(const simdrop_params& p, size_t n) {
  std::vector<uint32_t> words(n);
  REQUIRE(simdrop_fill_u32(words.data(), n, &p) == SIMDROP_OK);
  return words;
}

std::string sha256_hex(const std::vector<uint8_t>& bytes) {
  simdrop_cli::sha256 digest;
  digest.update(bytes.data(), bytes.size());
  return digest.hex_digest();
}

// A usage mistake: status 2, nothing on stdout, "simdrop: ..." and then the usage on stderr.
void require_usage_mistake(const std::string& arguments) {
  INFO("simdrop " << arguments);
  const tool_result r = run_tool(arguments);
  CHECK(r.status == 2);
  CHECK(r.out.empty());
  INFO("stderr: " << r.err);
  CHECK(r.err.rfind("simdrop: ", 0) == 0);
  const size_t first_line_end = r.err.find('\n');
  REQUIRE(first_line_end != std::string::npos);
  CHECK(r.err.find("usage: simdrop", first_line_end) == first_line_end + 1);
}

}  // namespace

TEST_CASE("stream writes the words of simdrop_fill_u32 and of the oracle", "[cli][stream]") {
  struct placement {
    uint64_t seed, stream, offset, count;
  };
  const placement placements[] = {
      {0, 0, 0, 4100},                                      // one Philox group and xoshiro tile past the first
      {0x123456789abcdefULL, 7, two_to_32 - 2000, 4000},    // across 2^32 (the counter's high word)
      {UINT64_MAX, UINT64_MAX, UINT64_MAX - 2999, 3000},    // the last words of the index space
      {5, 1, UINT64_MAX, 1},                                // the very last word
  };
  const simdrop_generator generator = GENERATE(SIMDROP_PHILOX4X32_10, SIMDROP_XOSHIRO128PP);
  for (const placement& at : placements) {
    simdrop_params p = simdrop_params_default(0.5f, at.seed);
    p.generator = generator, p.stream = at.stream, p.offset = at.offset;
    INFO(stream_flags(p) << " --count " << at.count);
    const tool_result r = run_tool("stream " + stream_flags(p) + " --count " + std::to_string(at.count));
    REQUIRE(r.status == 0);
    CHECK(r.err.empty());
    const std::vector<uint32_t> words = r.words();
    REQUIRE(r.out.size() == at.count * 4);
    CHECK(words == library_words(p, size_t(at.count)));
    CHECK(words == oracle::words(p, size_t(at.count)));
  }
}

TEST_CASE("stream reads hex and decimal alike", "[cli][stream]") {
  const tool_result hex = run_tool("stream --seed 0xDEADbeef --stream 0x10 --offset 0xfffffff0 --count 64");
  const tool_result decimal = run_tool("stream --seed 3735928559 --stream 16 --offset 4294967280 --count 64");
  REQUIRE(hex.status == 0);
  REQUIRE(decimal.status == 0);
  CHECK(hex.out.size() == 256);
  CHECK(hex.out == decimal.out);
}

TEST_CASE("stream --what keep-bits writes simdrop_mask's bytes and the oracle's decisions", "[cli][stream]") {
  const simdrop_test::generator_width gw = GENERATE(every_generator_width());
  const float keep_prob = GENERATE(0.5f, 0.3f);
  const uint64_t offset = GENERATE(uint64_t(0), two_to_32 - 37);
  const simdrop_params p = simdrop_test::make_params(gw, keep_prob, 0xfeed, 3, offset);
  constexpr size_t words = 40, decisions = words * 32;
  INFO(gw.name << " keep_prob " << keep_prob << " offset " << offset);
  const tool_result r = run_tool("stream --what keep-bits " + stream_flags(p) + " --keep-prob " +
                                 std::to_string(keep_prob) + " --threshold-bits " + std::to_string(gw.threshold_bits) +
                                 " --count " + std::to_string(words));
  REQUIRE(r.status == 0);
  const std::vector<uint8_t> out(r.out.begin(), r.out.end());
  std::vector<uint8_t> mask(decisions / 8);
  REQUIRE(simdrop_mask(mask.data(), decisions, &p) == SIMDROP_OK);
  CHECK(out == mask);
  CHECK(out == oracle::mask_bytes(oracle::decisions(p, decisions)));
}

TEST_CASE("stream --streams K --stream-words L interleaves K streams, then the next K", "[cli][stream]") {
  const simdrop_generator generator = GENERATE(SIMDROP_PHILOX4X32_10, SIMDROP_XOSHIRO128PP);
  constexpr uint64_t first_stream = 40, streams = 3, length = 5, offset = 1000;
  constexpr size_t count = 2 * streams * length + 4;  // two groups and the start of a third
  simdrop_params p = simdrop_params_default(0.5f, 99);
  p.generator = generator, p.stream = first_stream, p.offset = offset;
  const tool_result r = run_tool("stream " + stream_flags(p) + " --streams 3 --stream-words 5 --count " +
                                 std::to_string(count));
  REQUIRE(r.status == 0);
  const std::vector<uint32_t> words = r.words();
  REQUIRE(words.size() == count);
  for (size_t i = 0; i < count; ++i) {
    const uint64_t group = i / (streams * length), within = i % (streams * length);
    simdrop_params q = p;
    q.stream = first_stream + group * streams + within % streams;
    INFO("word " << i);
    CHECK(words[i] == oracle::word(q, offset + within / streams));
  }
}

TEST_CASE("hash is the SHA-256 of the oracle's mask bits", "[cli][hash]") {
  struct placement {
    uint64_t n, offset;
    float keep_prob;
  };
  const placement placements[] = {
      {1000, 0, 0.9f},                   // whole bytes
      {1003, two_to_32 - 500, 0.5f},     // a partial last byte, across 2^32
      {77, UINT64_MAX - 76, 0.1f},       // ends exactly at 2^64
      {0, 12345, 0.5f},                  // nothing: the empty message
  };
  const simdrop_test::generator_width gw = GENERATE(every_generator_width());
  for (const placement& at : placements) {
    const simdrop_params p = simdrop_test::make_params(gw, at.keep_prob, 0xabcdef, 11, at.offset);
    const std::string arguments = "hash --n " + std::to_string(at.n) + " --keep-prob " +
                                  std::to_string(at.keep_prob) + " --threshold-bits " +
                                  std::to_string(gw.threshold_bits) + " " + stream_flags(p);
    INFO("simdrop " << arguments);
    const tool_result r = run_tool(arguments);
    REQUIRE(r.status == 0);
    CHECK(r.out == sha256_hex(oracle::mask_bytes(oracle::decisions(p, size_t(at.n)))) + "\n");
  }
}

TEST_CASE("hash of more decisions than one chunk equals the hash of one simdrop_mask call", "[cli][hash]") {
  // The tool hashes 2^24 decisions at a time; this n crosses two chunk edges.
  constexpr size_t n = (size_t(1) << 25) + 13;
  simdrop_params p = simdrop_params_default(0.7f, 8);
  p.offset = 5;
  std::vector<uint8_t> mask((n + 7) / 8);
  REQUIRE(simdrop_mask(mask.data(), n, &p) == SIMDROP_OK);
  const tool_result r = run_tool("hash --n " + std::to_string(n) + " --keep-prob 0.7 --seed 8 --offset 5" +
                                 " --threshold-bits " + std::to_string(p.threshold_bits));
  REQUIRE(r.status == 0);
  CHECK(r.out == sha256_hex(mask) + "\n");
}

TEST_CASE("hash without a width uses simdrop_params_default's", "[cli][hash]") {
  const simdrop_params p = simdrop_params_default(0.5f, 1);
  std::vector<uint8_t> mask(125);
  REQUIRE(simdrop_mask(mask.data(), 1000, &p) == SIMDROP_OK);
  const tool_result r = run_tool("hash --n 1000 --keep-prob 0.5 --seed 1");
  REQUIRE(r.status == 0);
  CHECK(r.out == sha256_hex(mask) + "\n");
}

TEST_CASE("every kind of bad argument exits 2 with one line and the usage on stderr, nothing on stdout",
          "[cli][arguments]") {
  const char* const mistakes[] = {
      "",                                             // no command
      "frobnicate",                                   // unknown command
      "stream --bogus",                               // unknown flag
      "stream --count 1 extra",                       // a stray word
      "stream --seed",                                // missing value
      "stream --seed abc",                            // not a number
      "stream --seed -1",                             // signed
      "stream --seed +1",                             // signed
      "stream --seed 0x",                             // hex without digits
      "stream --seed 0xg1",                           // not hex
      "stream --seed 1e3",                            // not an integer
      "stream --seed 18446744073709551616",           // 2^64
      "stream --stream 0x10000000000000000",          // 2^64 in hex
      "stream --offset 99999999999999999999999",      // far out of range
      "stream --offset 18446744073709551615 --count 2",  // past the end of the index space
      "stream --generator mt19937",                   // unknown generator
      "stream --what everything",                     // unknown content
      "stream --keep-prob 0.5",                       // keep-prob without keep-bits
      "stream --threshold-bits 16",                   // a width without keep-bits
      "stream --what keep-bits --keep-prob 1.5",      // out of range
      "stream --what keep-bits --keep-prob nan",      // not a number
      "stream --what keep-bits --threshold-bits 12",  // not a width
      "stream --streams 0",                           // out of range
      "stream --stream-words 0",                      // out of range
      "hash --keep-prob 0.5",                         // --n missing
      "hash --n 10",                                  // --keep-prob missing
      "hash --n 10 --keep-prob -0.1",                 // out of range
      "hash --n 10 --keep-prob",                      // missing value
      "hash --n 2 --keep-prob 0.5 --offset 18446744073709551615",  // offset + n > 2^64
      "hash --n 10 --keep-prob 0.5 --generator",      // missing value
      "info --bogus",                                 // unknown flag
      "info --json=yes",                              // a switch with a value
      "bench --threads 0",                            // out of range
      "bench --threads many",                         // not a number
      "bench --size 0",                               // out of range
      "bench --size 12Q",                             // not a size
      "bench --call everything",                      // unknown call
      "bench --isa no_such_isa",                      // unknown implementation
      "bench --generator pcg",                        // unknown generator
      "bench --threshold-bits 64",                    // not a width
      "bench --quick=1",                              // a switch with a value
  };
  for (const char* mistake : mistakes) require_usage_mistake(mistake);
}

TEST_CASE("bench --isa names an implementation this CPU cannot run: exit 2", "[cli][arguments]") {
  // Every build has one known name it cannot run: avx2 or avx512 on aarch64, neon on x86-64.
  for (const char* name : {"avx512", "avx2", "neon"})
    if (!simdrop_isa_supported(name)) require_usage_mistake(std::string("bench --quick --isa ") + name);
}

TEST_CASE("an endless stream ends cleanly when the reader closes the pipe", "[cli][stream]") {
  const std::string err = scratch_path("err"), status = scratch_path("status"), out = scratch_path("out");
  const simdrop_generator generator = GENERATE(SIMDROP_PHILOX4X32_10, SIMDROP_XOSHIRO128PP);
  // head reads 100 kB and exits; the tool's next write meets a closed pipe.
  const std::string script = std::string("{ $TOOL stream --generator ") + generator_flag(generator) + " 2>'" + err +
                             "'; echo $? >'" + status + "'; } | head -c 100000 >'" + out + "'";
  const tool_result r = run_shell(script, out, err);
  const std::string exit_status = simdrop_cli_test::read_file(status);
  std::remove(status.c_str());
  CHECK(r.status == 0);
  CHECK(r.out.size() == 100000);
  CHECK(exit_status == "0\n");
  CHECK(r.err.empty());
}

TEST_CASE("--help prints the usage on stdout and exits 0", "[cli][arguments]") {
  for (const char* arguments : {"--help", "stream --help", "hash --help", "bench --help", "info --help"}) {
    INFO(arguments);
    const tool_result r = run_tool(arguments);
    CHECK(r.status == 0);
    CHECK(r.out.rfind("usage: simdrop", 0) == 0);
    CHECK(r.err.empty());
  }
}

TEST_CASE("info names every compiled implementation and the active one", "[cli][info]") {
  const tool_result r = run_tool("info");
  REQUIRE(r.status == 0);
  for (size_t i = 0; i < simdrop_isa_count(); ++i) CHECK(r.out.find(simdrop_isa_name(i)) != std::string::npos);
  const char* forced = std::getenv("SIMDROP_ISA");
  const bool by_variable = forced && *forced && std::string(forced) == simdrop_active_isa();
  const std::string reason = by_variable ? "SIMDROP_ISA" : "detection";
  CHECK(r.out.find(std::string(simdrop_active_isa()) + ", by " + reason) != std::string::npos);
}
