// `simdrop hash`: the SHA-256 of the packed mask bits of N decisions, exactly
// the ceil(N/8) bytes simdrop_mask writes (bit i % 8 of byte i / 8 is element
// i, unused bits of the last byte 0), so that two machines, frameworks or
// sharding layouts compare their masks in one line. The mask is made in chunks
// of whole bytes, which gives the same bytes as one call (the contract's
// decisions depend on the global index only).
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "commands.hpp"
#include "sha256.hpp"

namespace simdrop_cli {

int run_hash(arguments& args) {
  std::string value;
  if (!args.take_value("n", &value)) throw usage_error("--n is required");
  const uint64_t n = parse_u64("--n", value);
  if (!args.take_value("keep-prob", &value)) throw usage_error("--keep-prob is required");
  const float keep_prob = parse_keep_prob("--keep-prob", value);
  const simdrop_params params = take_stream_params(args, keep_prob);
  args.finish();
  if (n > 0 && n - 1 > UINT64_MAX - params.offset)
    throw usage_error("--n: offset + n exceeds 2^64 (the index space)");

  constexpr uint64_t decisions_per_call = uint64_t(1) << 24;  // 2 MiB of mask
  std::vector<uint8_t> mask(decisions_per_call / 8);
  sha256 digest;
  for (uint64_t done = 0; done < n;) {
    const uint64_t count = std::min(decisions_per_call, n - done);
    simdrop_params chunk = params;
    chunk.offset += done;
    const int status = simdrop_mask(mask.data(), size_t(count), &chunk);
    if (status != SIMDROP_OK) throw runtime_failure(std::string("hash: ") + simdrop_status_string(status));
    digest.update(mask.data(), size_t((count + 7) / 8));
    done += count;
  }
  std::printf("%s\n", digest.hex_digest().c_str());
  return 0;
}

}  // namespace simdrop_cli
