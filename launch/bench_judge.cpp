#include "launch/bench_judge.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

#include "common/atomic_file.h"
#include "common/check.h"
#include "common/log.h"
#include "launch/cli_options.h"
#include "launch/generation_options.h"
#include "launch/parallel_options.h"
#include "parallel/device_mesh.h"
#include "parallel/mpi_runtime.h"
#include "parallel/world_communicator.h"
#include "src/io/frame_grid.h"
#include "src/io/image_file.h"
#include "src/pipelines/pipeline.h"
#include "src/shapes/judge_run.h"

namespace tessera {
namespace {

constexpr const char* kProgram = "tessera bench judge";

// A clip's frames side by side, so a grid cell shows the motion.
io::FrameBuffer strip(const at::Tensor& frames) { return io::compose_strip(cli::frames_view(frames), 1, 40); }

}  // namespace

void add_judge_bench_options(cxxopts::Options& options) {
  options.add_options("judge")
      ("model", "judge: pipeline folder (default: the embedded model); cache: run the study on this trained "
                "pipeline ('embedded': the default model) instead of a random model; scaling: tiny or medium (random "
                "weights), embedded, or a Wan model or pipeline folder (default: medium)", cxxopts::value<std::string>())
      ("ulysses", "judge: Ulysses degree (without --ulysses and --ring, as generate: every rank works, Ulysses on "
                  "the largest share that divides the model's heads, Ring on the rest)", cxxopts::value<int>())
      ("ring", "judge: Ring degree", cxxopts::value<int>())
      ("cfg", "judge: CFG-parallel degree (1 unless given)", cxxopts::value<int>())
      ("cache", "judge: a --cache spec to generate with", cxxopts::value<std::string>())
      ("weights", "judge: how the transformer keeps its weights: full, fp8 or fp8-scaled (docs/fp8_weights.md)",
       cxxopts::value<std::string>()->default_value("full"))
      ("seed", "judge, cache --model: seed of every prompt; scaling: seed of the weights and inputs", cxxopts::value<uint64_t>()->default_value("0"))
      ("min-rate", "judge: fail (exit 1) when fewer than this share of prompts are right", cxxopts::value<double>())
      ("grid", "judge: write every output into one PNG grid (rank 0)", cxxopts::value<std::string>())
      ("upscale", "judge: enlarge the grid's cells by this factor", cxxopts::value<int>()->default_value("4"));
}

int run_judge_bench(const cxxopts::ParseResult& parsed, MpiRuntime& runtime, const DeviceBinding& binding) {
  const bool rank0 = runtime.world_rank() == 0;
  if (parsed.count("grid")) cli::usage_checked(kProgram, [&] { io::check_writable_output(parsed["grid"].as<std::string>()); });
  const auto cache_spec = cli::cache_spec_from_flags(kProgram, parsed);
  const std::string model_dir = cli::usage_checked(kProgram, [&] { return cli::model_dir_from_flags(parsed); });
  const WeightStorage weights =
      cli::usage_checked(kProgram, [&] { return parse_weight_storage(parsed["weights"].as<std::string>()); });
  auto mesh = cli::make_device_mesh(kProgram, parsed, runtime, binding, model_dir);
  GenerationSession session(Pipeline::load(model_dir, at::kFloat, cli::torch_device(binding), {.weights = weights}),
                            mesh, GuidanceMode::automatic);
  session.use_cache(cache_spec);
  DenoiseOptions loop;
  loop.cfg_group = &mesh->cfg();
  const int steps = parsed["steps"].as<int>();
  TESSERA_LOG_INFO("judging ", model_dir, " on ", shapes::judge_scenes().size(), " prompts, ", steps, " steps, ",
                   mesh->config().to_string(), cache_spec ? ", cache " + *cache_spec : std::string(", no cache"),
                   ", weights ", weight_storage_name(weights));
  const shapes::JudgeRun run = shapes::run_judge(
      session.pipeline(), loop, parsed["seed"].as<uint64_t>(), steps,
      [&](const shapes::JudgedPrompt& judged, int64_t done, int64_t total) {
        if (!rank0) return;
        char line[256];
        std::snprintf(line, sizeof(line), "%2lld/%lld %-5s %-28s %s (%.2f s)", static_cast<long long>(done),
                      static_cast<long long>(total), judged.verdict.correct ? "right" : "WRONG", judged.prompt.c_str(),
                      judged.verdict.reason.c_str(), judged.seconds);
        std::cout << line << "\n" << std::flush;
      });
  if (!rank0) return 0;
  char summary[160];
  std::snprintf(summary, sizeof(summary), "judge: %lld/%zu right (rate %.3f), %.3f s per prompt",
                static_cast<long long>(run.right), run.prompts.size(), run.rate(), run.seconds / run.prompts.size());
  std::cout << summary << "\n" << std::flush;
  if (parsed.count("grid")) {
    // Stills six to a row, then the clips' strips two to a row, stacked: one cell size for all would leave
    // the stills lost in cells as wide as a strip.
    std::vector<io::FrameBuffer> stills, clips;
    for (const auto& judged : run.prompts) (judged.frames.size(0) == 1 ? stills : clips).push_back(strip(judged.frames));
    std::vector<io::FrameBuffer> parts;
    if (!stills.empty()) parts.push_back(io::compose_grid(stills, 6, 2, 255));
    if (!clips.empty()) parts.push_back(io::compose_grid(clips, 2, 2, 255));
    const io::FrameBuffer grid = io::compose_grid(parts, 1, 4, 255);
    io::FrameWriteOptions write;
    write.upscale = parsed["upscale"].as<int>();
    io::write_frames(parsed["grid"].as<std::string>(), grid.view(), write);
    TESSERA_LOG_INFO("wrote ", parsed["grid"].as<std::string>());
  }
  if (parsed.count("json")) {
    nlohmann::ordered_json document = {{"model", model_dir},       {"steps", steps},
                                       {"parallel", mesh->config().to_string()},
                                       {"cache", cache_spec.value_or("none")},
                                       {"weights", weight_storage_name(weights)}, {"right", run.right},
                                       {"total", run.prompts.size()}, {"rate", run.rate()},
                                       {"seconds_per_prompt", run.seconds / run.prompts.size()}};
    for (const auto& judged : run.prompts) {
      document["prompts"].push_back(
          {{"prompt", judged.prompt}, {"right", judged.verdict.correct}, {"reason", judged.verdict.reason}});
    }
    write_file_atomically(parsed["json"].as<std::string>(), document.dump(2) + "\n");
  }
  if (parsed.count("min-rate") && run.rate() < parsed["min-rate"].as<double>()) {
    std::cout << "FAIL: rate " << run.rate() << " is below --min-rate " << parsed["min-rate"].as<double>() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace tessera
