// Runs the `simdrop` command from a test and collects its exit status, stdout
// (bytes, as written) and stderr. The command line comes from CMake
// (SIMDROP_CLI_COMMAND: the emulator first when cross-compiling, then the
// tool), and the captured output goes through files in the test's build
// folder, so that binary stdout survives intact.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace simdrop_cli_test {

struct tool_result {
  int status = -1;  // the exit status, or -1 when the command did not exit normally
  std::string out, err;
  std::vector<std::uint32_t> words() const;  // stdout as little-endian 32-bit words
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A fresh file name in the work folder for this process.
inline std::string scratch_path(const char* what) {
  static unsigned counter = 0;
  return std::string(SIMDROP_CLI_WORK_DIR) + "/scratch-" + std::to_string(getpid()) + "-" +
         std::to_string(counter++) + "-" + what;
}

// Runs `script` with /bin/sh, "$TOOL" standing for the command; returns the
// status and what landed in the files named out and err (removed after).
inline tool_result run_shell(const std::string& script, const std::string& out, const std::string& err) {
  const std::string command = "TOOL='" + std::string(SIMDROP_CLI_COMMAND) + "'; " + script;
  const int raw = std::system(command.c_str());
  tool_result r;
  r.status = raw != -1 && WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = read_file(out);
  r.err = read_file(err);
  std::remove(out.c_str());
  std::remove(err.c_str());
  return r;
}

// `simdrop <arguments>` (arguments are shell words: no quoting is added).
inline tool_result run_tool(const std::string& arguments) {
  const std::string out = scratch_path("out"), err = scratch_path("err");
  return run_shell("$TOOL " + arguments + " >'" + out + "' 2>'" + err + "'", out, err);
}

inline std::vector<std::uint32_t> tool_result::words() const {
  std::vector<std::uint32_t> w(out.size() / 4);
  for (size_t i = 0; i < w.size(); ++i)
    for (int b = 3; b >= 0; --b) w[i] = (w[i] << 8) | static_cast<unsigned char>(out[4 * i + size_t(b)]);
  return w;
}

}  // namespace simdrop_cli_test
