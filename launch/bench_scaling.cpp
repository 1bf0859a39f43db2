#include "launch/bench_scaling.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <iostream>
#include <memory>

#include "measure/scaling_bench.h"
#include "common/atomic_file.h"
#include "common/check.h"
#include "common/log.h"
#include "launch/cli_options.h"
#include "launch/generation_options.h"
#include "launch/parallel_options.h"
#include "parallel/mpi_runtime.h"
#include "parallel/world_communicator.h"
#include "src/models/load_model.h"
#include "src/models/wan/wan_transformer.h"
#include "src/shapes/embedded_model.h"

namespace tessera {
namespace {

constexpr const char* kProgram = "tessera bench scaling";

// The widths of the tiny Wan test fixtures (tests/fixtures/wan/uneven_rope: 3 heads, so Ulysses shards them
// unevenly) and of Wan2.1-T2V-1.3B, whose depth (30 layers) --layers replaces.
std::optional<WanConfig> named_config(const std::string& name) {
  if (name == "tiny") {
    return WanConfig{.patch_size = {1, 2, 2}, .num_attention_heads = 3, .attention_head_dim = 10, .in_channels = 4,
                     .out_channels = 4, .text_dim = 16, .freq_dim = 8, .ffn_dim = 32, .num_layers = 2,
                     .cross_attn_norm = false, .eps = 1e-6, .rope_max_seq_len = 32};
  }
  if (name == "medium") {
    return WanConfig{.patch_size = {1, 2, 2}, .num_attention_heads = 12, .attention_head_dim = 128,
                     .in_channels = 16, .out_channels = 16, .text_dim = 4096, .freq_dim = 256, .ffn_dim = 8960,
                     .num_layers = 2, .cross_attn_norm = true, .eps = 1e-6, .rope_max_seq_len = 1024};
  }
  return std::nullopt;
}

// A pipeline folder's transformer, or the directory itself when it is the transformer's.
std::string transformer_dir(const std::string& model) {
  const std::string dir = model == "embedded" ? embedded_model_dir() : model;
  return std::filesystem::exists(std::filesystem::path(dir) / "transformer" / "config.json") ? dir + "/transformer"
                                                                                               : dir;
}

std::vector<int> parse_sizes(const std::vector<std::string>& texts, int world_size) {
  std::vector<int> sizes;
  for (const auto& text : texts) {
    size_t consumed = 0;
    int size = 0;
    try {
      size = std::stoi(text, &consumed);
    } catch (const std::exception&) {
      consumed = 0;
    }
    if (consumed != text.size() || size < 1) {
      throw cli::UsageError(detail::concat(kProgram, ": --sizes: cannot read a world size from '", text,
                                           "'; write positive integers, e.g. --sizes 1,2,4"));
    }
    if (size > world_size) {
      throw cli::UsageError(detail::concat(kProgram, ": --sizes ", size, " exceeds the launched world of ", world_size,
                                           " rank(s); launch with tessera-run -np ", size, ", or give sizes up to ",
                                           world_size));
    }
    if (std::find(sizes.begin(), sizes.end(), size) == sizes.end()) sizes.push_back(size);
  }
  std::sort(sizes.begin(), sizes.end());
  return sizes;
}

ScalingOptions options_from_flags(const cxxopts::ParseResult& parsed, int world_size, const DeviceBinding& binding) {
  for (const char* layout_flag : {"ulysses", "ring", "cfg"}) {
    if (parsed.count(layout_flag)) {
      throw cli::UsageError(detail::concat(kProgram, ": --", layout_flag, " sets one layout; the scaling bench sweeps "
                                           "them: choose with --strategies (none, ulysses, ring, usp, cfg) and --sizes"));
    }
  }
  ScalingOptions options;
  if (parsed.count("strategies")) {
    for (const auto& name : parsed["strategies"].as<std::vector<std::string>>()) {
      options.strategies.push_back(cli::usage_checked(detail::concat(kProgram, " --strategies"),
                                                      [&] { return parse_scaling_strategy(name); }));
    }
  }
  options.weight_shardings.clear();
  for (const auto& name : parsed["weights-sharding"].as<std::vector<std::string>>()) {
    const auto sharding = cli::usage_checked(detail::concat(kProgram, " --weights-sharding"),
                                             [&] { return parse_weight_sharding(name); });
    if (std::find(options.weight_shardings.begin(), options.weight_shardings.end(), sharding) ==
        options.weight_shardings.end()) {
      options.weight_shardings.push_back(sharding);
    }
  }
  if (parsed.count("sizes")) {
    options.sizes = parse_sizes(parsed["sizes"].as<std::vector<std::string>>(), world_size);
  } else {
    for (int size = 1; size <= world_size; ++size) options.sizes.push_back(size);
  }
  for (const auto& text : parsed["sequences"].as<std::vector<std::string>>()) {
    options.sequences.push_back(
        cli::usage_checked(detail::concat(kProgram, " --sequences"), [&] { return parse_latent_size(text); }));
  }
  options.warmup = parsed["warmup"].as<int>();
  if (options.warmup < 0) throw cli::UsageError(detail::concat(kProgram, ": --warmup must be 0 or more, got ", options.warmup));
  options.repeat = parsed["repeat"].as<int>();
  options.rounds = parsed["rounds"].as<int>();
  if (options.rounds < 1) {
    throw cli::UsageError(detail::concat(kProgram, ": --rounds must be at least 1, got ", options.rounds));
  }
  options.text_tokens = parsed["text-tokens"].as<int64_t>();
  if (options.text_tokens < 1) {
    throw cli::UsageError(detail::concat(kProgram, ": --text-tokens must be at least 1, got ", options.text_tokens));
  }
  const auto mode = parsed["cfg-mode"].as<std::string>();
  if (mode != "sequential" && mode != "batch") {
    throw cli::UsageError(detail::concat(kProgram, ": unknown --cfg-mode '", mode, "'; use sequential (cond, then "
                                         "uncond, the pipeline's default) or batch (one [uncond, cond] forward)"));
  }
  options.batch_guidance = mode == "batch";
  options.text_kv_cache = cli::text_kv_mode_from_flags(kProgram, parsed);
  options.seed = parsed["seed"].as<uint64_t>();
  options.device = cli::torch_device(binding);
  options.dtype = cli::dtype_for_device(cli::dtype_from_flags(kProgram, parsed), options.device);
  return options;
}

struct ScalingModel {
  std::shared_ptr<WanTransformer3DModel> model;
  ScalingRunDescription description;
};

// Random weights from `seed`, drawn the same on every rank (torch's default initialisation, as the model's
// constructor draws them).
ScalingModel build_model(const std::string& name, WanConfig config, const ScalingOptions& options) {
  at::manual_seed(options.seed);
  auto model = std::make_shared<WanTransformer3DModel>(config);
  model->eval();
  if (options.dtype != at::kFloat) model->set_dtype(options.dtype);
  model->to(options.device);
  return {model, {.model = name, .source = detail::concat("random weights (torch's default initialisation), seed ",
                                                          options.seed),
                  .config = model->config_entries(), .backend = {}, .world_size = 0, .threads_per_rank = 0,
                  .dtype = {}, .command = {}}};
}

ScalingModel load(const std::string& name, const ScalingOptions& options) {
  const std::string dir = cli::usage_checked(kProgram, [&] { return transformer_dir(name); });
  const auto loaded = load_model(dir, options.dtype, options.device);
  auto model = std::dynamic_pointer_cast<WanTransformer3DModel>(loaded);
  TESSERA_CHECK(model != nullptr, kProgram, " measures Wan transformers; ", dir, " holds a ", loaded->class_name(),
                ". Use a WanTransformer3DModel directory, or --model tiny, medium or embedded");
  return {model, {.model = name, .source = "loaded from " + dir, .config = model->config_entries(), .backend = {},
                  .world_size = 0, .threads_per_rank = 0, .dtype = {}, .command = {}}};
}

const char* dtype_name(c10::ScalarType dtype) {
  return dtype == at::kBFloat16 ? "bf16" : dtype == at::kHalf ? "fp16" : "fp32";
}

}  // namespace

void add_scaling_bench_options(cxxopts::Options& options) {
  options.add_options("scaling")
      ("strategies", "scaling: comma-separated, of none, ulysses, ring, usp, cfg (default: every one the sizes allow)",
       cxxopts::value<std::vector<std::string>>())
      ("weights-sharding", "scaling: comma-separated, of none (every rank holds the whole model) and sharded (each "
                           "rank of a point 1/N of it, gathered block by block as --shard-weights does); each point "
                           "runs once per entry", cxxopts::value<std::vector<std::string>>()->default_value("none"))
      ("sizes", "scaling: comma-separated world sizes to measure (default: 1 up to the launched world); a smaller "
                "size runs on the first ranks while the others wait", cxxopts::value<std::vector<std::string>>())
      ("sequences", "scaling: comma-separated latent sizes FRAMESxHEIGHTxWIDTH or FRAMESxSIZE, in latent units "
                    "(tokens = frames x height/2 x width/2 for patch 1x2x2)",
       cxxopts::value<std::vector<std::string>>()->default_value("3x32x32,6x32x32"))
      ("layers", "scaling: transformer layers of --model tiny or medium", cxxopts::value<int>()->default_value("2"))
      ("warmup", "scaling: untimed steps before each point's measured ones (by 2, the weights are packed for the "
       "point's row counts)", cxxopts::value<int>()->default_value("2"))
      ("rounds", "scaling: run the points this many times in turn and pool each point's measured steps, so that a "
                 "change in the machine's speed during the run reaches every point alike",
       cxxopts::value<int>()->default_value("1"))
      ("text-tokens", "scaling: prompt length in tokens (the Wan pipeline pads prompts to 512)",
       cxxopts::value<int64_t>()->default_value("512"))
      ("cfg-mode", "scaling: how one rank runs the two guidance branches: sequential (cond, then uncond: the "
                   "pipeline's default) or batch (one [uncond, cond] forward)",
       cxxopts::value<std::string>()->default_value("sequential"))
      ("text-kv-cache", "scaling: the text keys and values computed in each point's warm-up and reused by its "
                        "measured steps, as a generation does: auto (where the model supports it, the default), on "
                        "or off (every step projects them again)",
       cxxopts::value<std::string>()->default_value("auto"))
      ("dtype", "scaling: fp32, bf16 or fp16; auto: bf16 on a CUDA device, fp32 on the CPU",
       cxxopts::value<std::string>()->default_value("auto"));
}

int run_scaling_bench(const cxxopts::ParseResult& parsed, MpiRuntime& runtime, const DeviceBinding& binding,
                      const std::string& command_line) {
  ScalingOptions options = options_from_flags(parsed, runtime.world_size(), binding);
  const std::string name = parsed.count("model") ? parsed["model"].as<std::string>() : "medium";
  const auto named = named_config(name);
  if (parsed.count("layers") && !named) {
    throw cli::UsageError(detail::concat(kProgram, ": --layers applies to --model tiny or medium, not to ", name,
                                         " (its config.json sets the depth)"));
  }
  const bool default_strategies = options.strategies.empty();
  auto plan = [&](const WanConfig& config) {
    cli::usage_checked(kProgram, [&] {
      if (default_strategies) options.strategies = runnable_scaling_strategies(options, config);
      check_scaling_plan(options, config);
    });
  };
  ScalingModel scaling;
  if (named) {
    WanConfig config = *named;
    config.num_layers = parsed["layers"].as<int>();
    if (config.num_layers < 1) throw cli::UsageError(detail::concat(kProgram, ": --layers must be at least 1"));
    plan(config);  // before the weights are drawn
    scaling = build_model(name, config, options);
  } else {
    scaling = load(name, options);
    plan(scaling.model->config());
  }
  auto world = make_world_communicator(cli::backend_from_flags(kProgram, parsed), binding.placement);
  scaling.description.backend = to_string(world->backend());
  scaling.description.world_size = world->size();
  scaling.description.threads_per_rank = binding.threads;
  scaling.description.dtype = dtype_name(options.dtype);
  scaling.description.command = command_line;
  std::string strategies;
  for (const auto strategy : options.strategies) strategies += (strategies.empty() ? "" : ",") + to_string(strategy);
  TESSERA_LOG_INFO("scaling bench on ", name, " (", scaling.description.source, "): strategies ", strategies,
                   ", sizes up to ", options.sizes.back(), " of ", world->size(), " ranks, ", options.sequences.size(),
                   " sequence(s), ", options.warmup, " warm-up + ", options.repeat, " measured steps per point, ",
                   binding.description);
  const ScalingResults results = run_scaling_benchmark(*world, *scaling.model, options);
  if (runtime.world_rank() == 0) {
    std::cout << scaling_table(results) << std::flush;
    if (parsed.count("json")) {
      const auto path = parsed["json"].as<std::string>();
      write_file_atomically(path, scaling_json(scaling.description, options, results));
      TESSERA_LOG_INFO("wrote ", path);
    }
  }
  return 0;
}

}  // namespace tessera
