#include <ATen/ATen.h>

#include <iostream>

#include "measure/cache_study.h"
#include "measure/comm_bandwidth.h"
#include "measure/model_cache_study.h"
#include "common/atomic_file.h"
#include "common/check.h"
#include "common/log.h"
#include "common/split.h"
#include "launch/bench_judge.h"
#include "launch/bench_scaling.h"
#include "launch/cli_options.h"
#include "launch/commands.h"
#include "launch/parallel_options.h"
#include "parallel/mpi_runtime.h"
#include "parallel/world_communicator.h"
#include "src/pipelines/pipeline.h"
#include "src/shapes/embedded_model.h"

namespace tessera {
namespace {

// "4096", "1K", "64M", "1G" (powers of 1024).
int64_t parse_bytes(const std::string& text) {
  size_t consumed = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &consumed);
  } catch (const std::exception&) {
    consumed = 0;
  }
  TESSERA_CHECK(consumed > 0, "cannot read a byte size from '", text, "'; write e.g. 4096, 1K, 64M");
  const std::string suffix = text.substr(consumed);
  int64_t scale = 1;
  if (suffix == "K" || suffix == "KiB") scale = int64_t{1} << 10;
  else if (suffix == "M" || suffix == "MiB") scale = int64_t{1} << 20;
  else if (suffix == "G" || suffix == "GiB") scale = int64_t{1} << 30;
  else TESSERA_CHECK(suffix.empty(), "unknown size suffix '", suffix, "' in '", text, "'; use K, M or G");
  return value * scale;
}

int run_comm_bench(const cxxopts::ParseResult& parsed, MpiRuntime& runtime, const DeviceBinding& binding) {
  CommBenchmarkOptions options;
  options.min_bytes = parse_bytes(parsed["min-bytes"].as<std::string>());
  options.max_bytes = parse_bytes(parsed["max-bytes"].as<std::string>());
  options.operations = parsed["ops"].as<std::vector<std::string>>();
  options.seconds_per_point = parsed["seconds-per-point"].as<double>();
  options.device = binding.cuda ? c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(binding.cuda_index))
                                : c10::Device(c10::DeviceType::CPU);
  auto world = make_world_communicator(cli::backend_from_flags("tessera bench comm", parsed), binding.placement);
  TESSERA_LOG_INFO("communication benchmark: ", to_string(world->backend()), " backend, ", world->size(),
                   " ranks, ", options.device.str(), ", ", options.min_bytes, "..", options.max_bytes, " bytes");
  const auto points = run_comm_benchmark(*world, options);
  if (runtime.world_rank() == 0) {
    std::cout << comm_benchmark_table(points) << std::flush;
    if (parsed.count("json")) {
      const auto path = parsed["json"].as<std::string>();
      write_file_atomically(path, comm_benchmark_json(*world, options, points));
      TESSERA_LOG_INFO("wrote ", path);
    }
  }
  return 0;
}

// The study on a trained pipeline: the judge's prompt set under each cache, with the judge's rate.
int run_model_cache_bench(const cxxopts::ParseResult& parsed) {
  ModelCacheStudyOptions options = default_model_cache_study_options();
  options.steps = parsed["steps"].as<int>();
  TESSERA_CHECK(options.steps >= 2, "--steps must be at least 2, got ", options.steps);
  options.seed = parsed["seed"].as<uint64_t>();
  if (parsed.count("caches")) options.caches = split_nonempty(parsed["caches"].as<std::string>(), ';');
  std::string model_dir = parsed["model"].as<std::string>();
  if (model_dir == "embedded") model_dir = embedded_model_dir();
  auto pipeline = Pipeline::load(model_dir, at::kFloat, c10::Device(c10::kCPU));
  TESSERA_LOG_INFO("cache study on ", model_dir, ": ", options.caches.size() + 1, " runs of the judge's prompt set, ",
                   options.steps, " steps each");
  const auto points = run_model_cache_study(*pipeline, options);
  std::cout << cache_study_table(points) << std::flush;
  if (parsed.count("json")) {
    const auto path = parsed["json"].as<std::string>();
    write_file_atomically(path, model_cache_study_json(model_dir, options, points));
    TESSERA_LOG_INFO("wrote ", path);
  }
  return 0;
}

int run_cache_bench(const cxxopts::ParseResult& parsed, MpiRuntime& runtime) {
  TESSERA_CHECK(runtime.world_size() == 1, "tessera bench cache runs on one rank (the cache study compares "
                "settings, not parallelism); launch it without mpirun -np > 1");
  if (parsed.count("model")) return run_model_cache_bench(parsed);
  CacheStudyOptions options = default_cache_study_options();
  options.steps = parsed["steps"].as<int>();
  TESSERA_CHECK(options.steps >= 2, "--steps must be at least 2, got ", options.steps);
  options.repeat = parsed["repeat"].as<int>();
  if (parsed.count("caches")) options.caches = split_nonempty(parsed["caches"].as<std::string>(), ';');
  TESSERA_LOG_INFO("cache study: ", options.caches.size() + 1, " runs of ", options.steps, " steps on a random ",
                   options.model.num_layers, "-layer Wan model");
  const auto points = run_cache_study(options);
  std::cout << cache_study_table(points) << std::flush;
  if (parsed.count("json")) {
    const auto path = parsed["json"].as<std::string>();
    write_file_atomically(path, cache_study_json(options, points));
    TESSERA_LOG_INFO("wrote ", path);
  }
  return 0;
}

}  // namespace

int run_bench(int argc, char** argv, MpiRuntime& runtime) {
  std::string command_line = detail::concat("tessera-run -np ", runtime.world_size(), " tessera");
  for (int i = 0; i < argc; ++i) command_line += std::string(" ") + argv[i];
  auto options = cli::make_options("bench", "Measure tessera. Benchmarks: comm (collective bandwidth, "
                                            "nccl-tests definitions of algbw/busbw); cache (step caches: time, "
                                            "skipped blocks and quality against the uncached run); judge (the "
                                            "embedded model's prompt set, generated and judged); scaling (the Wan "
                                            "transformer over strategies, world sizes and sequence lengths: time, "
                                            "speedup, bytes against the formula, peak memory, error vs 1 rank).");
  options.positional_help("comm|cache|judge|scaling");
  options.add_options("bench")
      ("benchmark", "which benchmark: comm, cache, judge or scaling", cxxopts::value<std::string>())
      ("steps", "cache, judge: denoising steps", cxxopts::value<int>()->default_value("20"))
      ("repeat", "cache: runs per setting (the median time is reported); scaling: measured steps per point",
       cxxopts::value<int>()->default_value("3"))
      ("caches", "cache: ';'-separated --cache specs (default: a sweep of fbc, teacache, taylorseer, pab, "
                 "fastercache, magcache, seacache)",
       cxxopts::value<std::string>())
      ("backend", "auto, mpi or nccl", cxxopts::value<std::string>()->default_value("auto"))
      ("min-bytes", "smallest size (K, M, G suffixes)", cxxopts::value<std::string>()->default_value("1K"))
      ("max-bytes", "largest size", cxxopts::value<std::string>()->default_value("64M"))
      ("ops", "operations to measure", cxxopts::value<std::vector<std::string>>()->default_value(
                                           "all_to_all,all_gather,ring_exchange,all_reduce"))
      ("seconds-per-point", "target time per size and operation", cxxopts::value<double>()->default_value("0.2"))
      ("json", "also write the results as JSON to this file (rank 0, atomically)", cxxopts::value<std::string>());
  add_judge_bench_options(options);
  add_scaling_bench_options(options);
  options.parse_positional({"benchmark"});
  const auto parsed = cli::parse(options, argc, argv, runtime.world_rank() == 0);
  if (!parsed) return 0;
  if (!parsed->count("benchmark")) {
    throw cli::UsageError("tessera bench: name a benchmark (comm, cache, judge, scaling); see --help");
  }
  const auto benchmark = (*parsed)["benchmark"].as<std::string>();
  if (benchmark != "comm" && benchmark != "cache" && benchmark != "judge" && benchmark != "scaling") {
    throw cli::UsageError("tessera bench: unknown benchmark '" + benchmark + "'; use comm, cache, judge or scaling");
  }
  const std::string program = "tessera bench " + benchmark;
  cli::positive_flag(program, *parsed, "repeat");
  cli::check_output_flags(program, *parsed, {"json"});
  cli::backend_from_flags(program, *parsed);
  const DeviceBinding binding = cli::configure_rank(program, runtime, *parsed);
  if (benchmark == "cache") return run_cache_bench(*parsed, runtime);
  if (benchmark == "judge") return run_judge_bench(*parsed, runtime, binding);
  if (benchmark == "scaling") return run_scaling_bench(*parsed, runtime, binding, command_line);
  return run_comm_bench(*parsed, runtime, binding);
}

}  // namespace tessera
