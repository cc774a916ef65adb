// A small JSON writer for `info --json` and `bench --json`: objects, arrays,
// strings (escaped), numbers (finite ones; NaN and infinities become null, as
// JSON has no spelling for them) and booleans, indented two spaces as Google
// Benchmark's own output is.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace simdrop_cli {

class json_writer {
 public:
  json_writer& begin_object();
  json_writer& end_object();
  json_writer& begin_array();
  json_writer& end_array();
  // The key of the next member of the current object.
  json_writer& key(const std::string& name);
  json_writer& value(const std::string& text);
  json_writer& value(const char* text);
  json_writer& value(double number);
  json_writer& value(uint64_t number);
  json_writer& value(int64_t number);
  json_writer& value(int number) { return value(int64_t(number)); }
  json_writer& value(bool flag);

  // key(name).value(v) in one call.
  template <class T>
  json_writer& member(const std::string& name, const T& v) {
    return key(name).value(v);
  }

  // The document so far, with a final newline once the outermost value is closed.
  const std::string& text() const { return out_; }

 private:
  json_writer& open(char bracket);
  json_writer& close(char bracket);
  void before_value();
  void newline();

  std::string out_;
  std::vector<bool> has_members_;  // one entry per open object or array
  bool after_key_ = false;
};

}  // namespace simdrop_cli
