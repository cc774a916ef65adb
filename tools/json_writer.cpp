// The JSON writer of json_writer.hpp: commas and indentation follow the
// nesting; strings are escaped as RFC 8259 asks (quote, backslash, control
// characters).
#include "json_writer.hpp"

#include <cmath>
#include <cstdio>

namespace simdrop_cli {

void json_writer::newline() {
  out_ += '\n';
  out_.append(2 * has_members_.size(), ' ');
}

void json_writer::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (has_members_.empty()) return;
  if (has_members_.back()) out_ += ',';
  has_members_.back() = true;
  newline();
}

json_writer& json_writer::open(char bracket) {
  before_value();
  out_ += bracket;
  has_members_.push_back(false);
  return *this;
}

json_writer& json_writer::close(char bracket) {
  const bool had_members = has_members_.back();
  has_members_.pop_back();
  if (had_members) newline();
  out_ += bracket;
  if (has_members_.empty()) out_ += '\n';
  return *this;
}

json_writer& json_writer::begin_object() { return open('{'); }
json_writer& json_writer::end_object() { return close('}'); }
json_writer& json_writer::begin_array() { return open('['); }
json_writer& json_writer::end_array() { return close(']'); }

json_writer& json_writer::key(const std::string& name) {
  value(name);
  out_ += ": ";
  after_key_ = true;
  return *this;
}

json_writer& json_writer::value(const std::string& text) {
  before_value();
  out_ += '"';
  for (const char c : text) {
    switch (c) {
      case '"': out_ += "\\\""; break;
      case '\\': out_ += "\\\\"; break;
      case '\n': out_ += "\\n"; break;
      case '\t': out_ += "\\t"; break;
      case '\r': out_ += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", unsigned(static_cast<unsigned char>(c)));
          out_ += escaped;
        } else {
          out_ += c;
        }
    }
  }
  out_ += '"';
  return *this;
}

json_writer& json_writer::value(const char* text) { return value(std::string(text ? text : "")); }

json_writer& json_writer::value(double number) {
  before_value();
  if (!std::isfinite(number)) {
    out_ += "null";
    return *this;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.10g", number);
  out_ += buffer;
  return *this;
}

json_writer& json_writer::value(uint64_t number) {
  before_value();
  out_ += std::to_string(number);
  return *this;
}

json_writer& json_writer::value(int64_t number) {
  before_value();
  out_ += std::to_string(number);
  return *this;
}

json_writer& json_writer::value(bool flag) {
  before_value();
  out_ += flag ? "true" : "false";
  return *this;
}

}  // namespace simdrop_cli
