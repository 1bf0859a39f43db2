#pragma once
// Shared option handling for the tessera subcommands: every subcommand has --help, --log-level and
// --threads, rejects unknown flags and stray arguments with a message naming the subcommand.
#include <cxxopts.hpp>

#include <initializer_list>
#include <optional>
#include <string>
#include <utility>

#include "common/check.h"

#include "launch/device_binding.h"

namespace tessera::cli {

// Thrown for bad command lines; main prints the message and exits with status 2 (no stack of errors).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

cxxopts::Options make_options(const std::string& subcommand, const std::string& description);
// Parses, rejecting unknown options and positional arguments. Returns nullopt when --help was printed.
std::optional<cxxopts::ParseResult> parse(cxxopts::Options& options, int argc, char** argv, bool print_help);

// Throws a UsageError naming the first of `names` the command line lacks.
void require(const cxxopts::ParseResult& parsed, const std::string& program, std::initializer_list<const char*> names);

// Runs `check` (the validation of a flag's value) and turns its tessera::Error into a UsageError for
// `program`: every rank sees the same flags, so every rank stops there with status 2.
template <typename Check>
auto usage_checked(const std::string& program, Check&& check) {
  try {
    return std::forward<Check>(check)();
  } catch (const Error& error) {
    throw UsageError(program + ": " + error.what());
  }
}

// The integer flag `name`, which must be at least 1; a usage error of `program` otherwise.
int positive_flag(const std::string& program, const cxxopts::ParseResult& parsed, const std::string& name);

// Each output file the command line names among `flags`, checked with check_writable_file (common/writable_file.h):
// a path that cannot be written is a usage error of `program`, found before any work rather than after it.
void check_output_flags(const std::string& program, const cxxopts::ParseResult& parsed,
                        std::initializer_list<const char*> flags);

// Applies the common options on this rank: log level and "[rank r/N]" prefix, device and threads. A bad
// --log-level, --device or --threads is a usage error of `program`.
DeviceBinding configure_rank(const std::string& program, const MpiRuntime& runtime,
                             const cxxopts::ParseResult& options);

}  // namespace tessera::cli
