#include "launch/cli_options.h"

#include <iostream>

#include "common/log.h"
#include "common/writable_file.h"
#include "parallel/mpi_runtime.h"

namespace tessera::cli {

cxxopts::Options make_options(const std::string& subcommand, const std::string& description) {
  cxxopts::Options options("tessera " + subcommand, description);
  options.add_options("common")
      ("h,help", "Show this help")
      ("log-level", "trace, debug, info, warn, error or off (default: info on rank 0, warn elsewhere)",
       cxxopts::value<std::string>())
      ("threads", "CPU threads per rank (default: cores / ranks on this node)", cxxopts::value<int>())
      ("device", "auto, cpu or cuda (auto: cuda:<local rank mod GPUs> when a GPU is visible)",
       cxxopts::value<std::string>()->default_value("auto"))
      ("allow-tf32", "on CUDA, let fp32 matmuls and convolutions use TF32 (faster, no longer fp32-exact)");
  return options;
}

std::optional<cxxopts::ParseResult> parse(cxxopts::Options& options, int argc, char** argv, bool print_help) {
  cxxopts::ParseResult result;
  try {
    result = options.parse(argc, argv);
  } catch (const cxxopts::exceptions::exception& error) {
    throw UsageError(options.program() + ": " + error.what() + "; see '" + options.program() + " --help'");
  }
  if (result.count("help")) {
    if (print_help) std::cout << options.help() << std::flush;
    return std::nullopt;
  }
  if (!result.unmatched().empty()) {
    throw UsageError(options.program() + ": unexpected argument '" + result.unmatched().front() + "'; see '" +
                     options.program() + " --help'");
  }
  return result;
}

void require(const cxxopts::ParseResult& parsed, const std::string& program, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (!parsed.count(name)) throw UsageError(program + ": --" + name + " is required; see '" + program + " --help'");
  }
}

int positive_flag(const std::string& program, const cxxopts::ParseResult& parsed, const std::string& name) {
  const int value = parsed[name].as<int>();
  if (value < 1) {
    throw UsageError(program + ": --" + name + " must be at least 1, got " + std::to_string(value));
  }
  return value;
}

void check_output_flags(const std::string& program, const cxxopts::ParseResult& parsed,
                        std::initializer_list<const char*> flags) {
  for (const char* flag : flags) {
    if (parsed.count(flag)) {
      usage_checked(program + " --" + flag, [&] { check_writable_file(parsed[flag].as<std::string>()); });
    }
  }
}

DeviceBinding configure_rank(const std::string& program, const MpiRuntime& runtime,
                             const cxxopts::ParseResult& options) {
  std::optional<log::Level> level;
  if (options.count("log-level")) {
    level = usage_checked(program, [&] { return log::parse_level(options["log-level"].as<std::string>()); });
  }
  std::optional<int> threads;
  if (options.count("threads")) threads = options["threads"].as<int>();
  const auto device = options["device"].as<std::string>();
  usage_checked(program, [&] { check_device_flags(device, threads); });
  log::configure(runtime.world_rank(), runtime.world_size(), level);
  return bind_device(runtime, device, threads, options.count("allow-tf32") > 0);
}

}  // namespace tessera::cli
