// The tool's subcommands, one file each (command_<name>.cpp). Each reads all
// of its flags first (a mistake throws usage_error before any output), then
// runs, and returns the exit status; a failure at run time throws
// runtime_failure. main.cpp holds the usage texts and the dispatch.
#pragma once

#include <string>

#include "arguments.hpp"

namespace simdrop_cli {

int run_info(arguments& args);
int run_bench(arguments& args);
int run_stream(arguments& args);
int run_hash(arguments& args);

// The version of the library in use, "MAJOR.MINOR.PATCH" (command_info.cpp).
std::string library_version();

// Raw bytes to stdout with write(2), whole or not at all: true when done,
// false when the reader has closed the pipe (EPIPE; SIGPIPE is ignored by
// main), which stream treats as a normal end. Other errors throw runtime_failure.
bool write_stdout(const void* data, size_t size);

}  // namespace simdrop_cli
