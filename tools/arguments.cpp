// Strict reading of the tool's flags and numbers (see arguments.hpp).
#include "arguments.hpp"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <utility>

namespace simdrop_cli {
namespace {

std::string quoted(const std::string& text) { return "\"" + text + "\""; }

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 99;
}

}  // namespace

arguments::arguments(std::vector<std::string> words) : words_(std::move(words)) {}

bool arguments::take_switch(const char* name) {
  const std::string flag = std::string("--") + name;
  bool found = false;
  for (size_t i = 0; i < words_.size();) {
    if (words_[i] == flag) {
      words_.erase(words_.begin() + long(i));
      found = true;
    } else if (words_[i].rfind(flag + "=", 0) == 0) {
      throw usage_error(flag + " takes no value");
    } else {
      ++i;
    }
  }
  return found;
}

bool arguments::take_value(const char* name, std::string* value) {
  const std::string flag = std::string("--") + name;
  bool found = false;
  for (size_t i = 0; i < words_.size();) {
    if (words_[i] == flag) {
      if (i + 1 >= words_.size()) throw usage_error(flag + " needs a value");
      *value = words_[i + 1];
      words_.erase(words_.begin() + long(i), words_.begin() + long(i) + 2);
      found = true;
    } else if (words_[i].rfind(flag + "=", 0) == 0) {
      *value = words_[i].substr(flag.size() + 1);
      words_.erase(words_.begin() + long(i));
      found = true;
    } else {
      ++i;
    }
  }
  return found;
}

void arguments::finish() const {
  if (words_.empty()) return;
  const std::string& word = words_.front();
  if (word.rfind("--", 0) == 0) throw usage_error("unknown flag " + quoted(word.substr(0, word.find('='))));
  throw usage_error("unexpected argument " + quoted(word));
}

uint64_t parse_u64(const std::string& flag, const std::string& text) {
  const bool hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
  const uint64_t base = hex ? 16 : 10;
  const size_t first = hex ? 2 : 0;
  if (text.size() <= first)
    throw usage_error(flag + ": " + quoted(text) + " is not an unsigned number (decimal or 0x hex)");
  uint64_t value = 0;
  for (size_t i = first; i < text.size(); ++i) {
    const int digit = digit_value(text[i]);
    if (uint64_t(digit) >= base)
      throw usage_error(flag + ": " + quoted(text) + " is not an unsigned number (decimal or 0x hex)");
    if (value > (UINT64_MAX - uint64_t(digit)) / base)
      throw usage_error(flag + ": " + text + " is out of range (0 .. 18446744073709551615)");
    value = value * base + uint64_t(digit);
  }
  return value;
}

uint64_t parse_u64_in(const std::string& flag, const std::string& text, uint64_t low, uint64_t high) {
  const uint64_t value = parse_u64(flag, text);
  if (value < low || value > high)
    throw usage_error(flag + ": " + text + " is out of range (" + std::to_string(low) + " .. " +
                      std::to_string(high) + ")");
  return value;
}

float parse_keep_prob(const std::string& flag, const std::string& text) {
  const char* begin = text.c_str();
  char* end = nullptr;
  errno = 0;
  const double value = text.empty() || std::isspace(static_cast<unsigned char>(text[0]))
                           ? std::nan("")
                           : std::strtod(begin, &end);
  if (end == nullptr || end == begin || *end != '\0' || !std::isfinite(value))
    throw usage_error(flag + ": " + quoted(text) + " is not a number");
  if (!(value >= 0.0 && value <= 1.0)) throw usage_error(flag + ": " + text + " is out of range (0 .. 1)");
  return float(value);
}

simdrop_generator parse_generator(const std::string& flag, const std::string& text) {
  if (text == "philox") return SIMDROP_PHILOX4X32_10;
  if (text == "xoshiro") return SIMDROP_XOSHIRO128PP;
  throw usage_error(flag + ": " + quoted(text) + " is not a generator (philox or xoshiro)");
}

uint32_t parse_threshold_bits(const std::string& flag, const std::string& text) {
  if (text == "8") return 8;
  if (text == "16") return 16;
  if (text == "32") return 32;
  throw usage_error(flag + ": " + quoted(text) + " is not a threshold width (8, 16 or 32)");
}

const char* generator_name(simdrop_generator generator) {
  switch (generator) {
    case SIMDROP_PHILOX4X32_10: return "philox";
    case SIMDROP_XOSHIRO128PP: return "xoshiro";
  }
  return "unknown";
}

simdrop_params take_stream_params(arguments& args, float keep_prob) {
  std::string value;
  uint64_t seed = 0;
  if (args.take_value("seed", &value)) seed = parse_u64("--seed", value);
  simdrop_params params = simdrop_params_default(keep_prob, seed);
  if (args.take_value("stream", &value)) params.stream = parse_u64("--stream", value);
  if (args.take_value("offset", &value)) params.offset = parse_u64("--offset", value);
  if (args.take_value("generator", &value)) params.generator = parse_generator("--generator", value);
  if (args.take_value("threshold-bits", &value))
    params.threshold_bits = parse_threshold_bits("--threshold-bits", value);
  return params;
}

}  // namespace simdrop_cli
