// The tool's SHA-256 against the known answers of FIPS 180-4's examples (the
// NIST "Cryptographic Standards and Guidelines: Examples with Intermediate
// Values" for SHA-256): "abc", the empty message, the 448-bit message, and the
// million a's of FIPS 180-2, fed in pieces of every size so that the block
// boundary handling is exercised too.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "sha256.hpp"

namespace {

std::string digest_of(const std::string& message, size_t piece) {
  simdrop_cli::sha256 digest;
  for (size_t at = 0; at < message.size(); at += piece)
    digest.update(message.data() + at, std::min(piece, message.size() - at));
  return digest.hex_digest();
}

}  // namespace

TEST_CASE("SHA-256 gives the FIPS 180-4 known answers", "[cli][sha256]") {
  struct known_answer {
    std::string message, digest;
  };
  const known_answer answers[] = {
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {std::string(1000000, 'a'), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
  };
  for (const known_answer& k : answers)
    for (size_t piece : {1, 3, 55, 56, 63, 64, 65, 1000000}) {
      INFO("message of " << k.message.size() << " bytes, fed " << piece << " at a time");
      CHECK(digest_of(k.message, piece) == k.digest);
    }
}
