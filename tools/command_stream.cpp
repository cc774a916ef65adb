// `simdrop stream`: raw little-endian 32-bit words of simdrop_fill_u32 (or the
// packed keep bits of simdrop_mask) on stdout, for PractRand (`RNG_test
// stdin32`), dieharder (`-g 200`) and for comparing machines. Endless unless
// --count is given; a reader that closes the pipe ends it cleanly (exit 0).
//
// --streams K interleaves K streams word by word (stream S, S+1, ..., S+K-1,
// each from --offset); with --stream-words L each of them gives L words and the
// next K streams follow: the many short streams that dropout draws, one per
// layer and step, laid side by side so that a test sees word j of stream k
// next to word j of stream k+1.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

#include "commands.hpp"

namespace simdrop_cli {
namespace {

enum class stream_content { words, keep_bits };

struct stream_request {
  simdrop_params params{};
  stream_content content = stream_content::words;
  bool endless = true;
  uint64_t count = 0;             // output words, all streams together (when not endless)
  uint64_t streams = 1;           // K
  uint64_t words_per_stream = 0;  // L; 0: unlimited
};

// One output word covers one index (words) or 32 decisions (keep bits).
uint64_t indices_per_word(stream_content content) { return content == stream_content::words ? 1 : 32; }

// How many output words one stream has from `offset` before its index space
// (2^64 indices) runs out; 2^64 itself (words from offset 0) counts as 2^64 - 1.
uint64_t words_left_in_index_space(const stream_request& r) {
  const uint64_t last = UINT64_MAX - r.params.offset;  // indices left, less one
  const uint64_t per_word = indices_per_word(r.content);
  if (per_word == 1) return last == UINT64_MAX ? last : last + 1;
  return last / per_word + ((last % per_word) + 1 == per_word ? 1 : 0);
}

stream_request parse(arguments& args) {
  stream_request r;
  std::string value;
  if (args.take_value("what", &value)) {
    if (value == "words") r.content = stream_content::words;
    else if (value == "keep-bits") r.content = stream_content::keep_bits;
    else throw usage_error("--what: \"" + value + "\" is not words or keep-bits");
  }
  float keep_prob = 0.5f;
  if (args.take_value("keep-prob", &value)) {
    if (r.content != stream_content::keep_bits) throw usage_error("--keep-prob goes with --what keep-bits");
    keep_prob = parse_keep_prob("--keep-prob", value);
  }
  // The words do not depend on the width: a width given for them is a mistake.
  if (r.content == stream_content::words && args.take_value("threshold-bits", &value))
    throw usage_error("--threshold-bits goes with --what keep-bits");
  r.params = take_stream_params(args, keep_prob);
  if (args.take_value("count", &value)) r.endless = false, r.count = parse_u64("--count", value);
  if (args.take_value("streams", &value)) r.streams = parse_u64_in("--streams", value, 1, 1u << 20);
  if (args.take_value("stream-words", &value))
    r.words_per_stream = parse_u64_in("--stream-words", value, 1, UINT64_MAX);
  args.finish();

  const uint64_t available = words_left_in_index_space(r);
  if (r.words_per_stream > available)
    throw usage_error("--stream-words: " + std::to_string(r.words_per_stream) +
                      " words from --offset pass the end of the index space (2^64)");
  if (!r.endless && r.words_per_stream == 0) {
    const uint64_t per_stream = r.count / r.streams + (r.count % r.streams ? 1 : 0);
    if (per_stream > available)
      throw usage_error("--count: " + std::to_string(r.count) +
                        " words from --offset pass the end of the index space (2^64)");
  }
  return r;
}

// `count` output words of stream `params.stream` from output word `first`.
void produce(const stream_request& r, simdrop_params params, uint64_t first, size_t count, uint32_t* out) {
  params.offset += first * indices_per_word(r.content);
  const int status = r.content == stream_content::words
                         ? simdrop_fill_u32(out, count, &params)
                         : simdrop_mask(reinterpret_cast<uint8_t*>(out), count * 32, &params);
  if (status != SIMDROP_OK) throw runtime_failure(std::string("stream: ") + simdrop_status_string(status));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  if (r.content == stream_content::words)
    for (size_t i = 0; i < count; ++i) out[i] = __builtin_bswap32(out[i]);
#endif
}

uint64_t stream_number(const stream_request& r, uint64_t group, uint64_t k) {
  uint64_t index = 0, number = 0;
  if (__builtin_mul_overflow(group, r.streams, &index) || __builtin_add_overflow(index, k, &index) ||
      __builtin_add_overflow(r.params.stream, index, &number))
    throw runtime_failure("stream: the stream numbers ran past 2^64 - 1");
  return number;
}

}  // namespace

bool write_stdout(const void* data, size_t size) {
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t written = ::write(STDOUT_FILENO, bytes, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE) return false;
      throw runtime_failure(std::string("writing to stdout: ") + std::strerror(errno));
    }
    bytes += written;
    size -= size_t(written);
  }
  return true;
}

int run_stream(arguments& args) {
  const stream_request r = parse(args);
  // One thread: a core makes the words several times faster than a pipe
  // carries them, and the other cores stay free for the reader (PractRand,
  // dieharder). Split across threads, each 4 MiB call would also wait for the
  // fork and join of its threads, which on a busy machine costs more than the
  // call itself.
  if (simdrop_set_num_threads(1) != SIMDROP_OK) throw runtime_failure("stream: simdrop_set_num_threads failed");
  // About 4 MiB per write: large enough that a call splits across threads and
  // the per-call cost vanishes, small enough to stay in cache.
  constexpr uint64_t words_per_write = uint64_t(1) << 20;
  const uint64_t per_stream_chunk = std::max<uint64_t>(1, words_per_write / r.streams);
  const uint64_t index_space = words_left_in_index_space(r);
  std::vector<uint32_t> out(per_stream_chunk * r.streams), one_stream(r.streams > 1 ? per_stream_chunk : 0);

  uint64_t remaining = r.count, group = 0, position = 0;  // position: words into each stream of the group
  while (r.endless || remaining > 0) {
    uint64_t words = std::min(per_stream_chunk, index_space - position);
    if (r.words_per_stream) words = std::min(words, r.words_per_stream - position);
    if (!r.endless) words = std::min(words, remaining / r.streams + (remaining % r.streams ? 1 : 0));
    if (words == 0) throw runtime_failure("stream: reached the end of the index space (2^64)");
    for (uint64_t k = 0; k < r.streams; ++k) {
      simdrop_params params = r.params;
      params.stream = stream_number(r, group, k);
      if (r.streams == 1) {
        produce(r, params, position, size_t(words), out.data());
        break;
      }
      produce(r, params, position, size_t(words), one_stream.data());
      for (uint64_t j = 0; j < words; ++j) out[j * r.streams + k] = one_stream[j];
    }
    const uint64_t total = r.endless ? words * r.streams : std::min(words * r.streams, remaining);
    if (!write_stdout(out.data(), size_t(total) * sizeof(uint32_t))) return 0;
    remaining -= r.endless ? 0 : total;
    position += words;
    if (r.words_per_stream && position == r.words_per_stream) position = 0, ++group;
  }
  return 0;
}

}  // namespace simdrop_cli
