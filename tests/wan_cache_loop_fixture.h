#pragma once
// A Wan cache fixture's loop (scripts/fixtures/caches.py, dbcache.py): its case.json, the tiny model it names, its
// inputs and expected tensors, and tessera's denoising loop with both guidance branches in one forward, as the
// fixtures' reference loops run them.
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <memory>
#include <string>

#include "src/io/safetensors.h"
#include "src/models/load_model.h"
#include "src/pipelines/denoise_loop.h"
#include "src/schedulers/flow_match_euler_discrete.h"

namespace tessera::testing {

class WanCacheLoopFixture {
 protected:
  // `dir`: the fixture case's folder; its case.json names the model folder under `fixtures_dir`.
  void load(const std::string& fixtures_dir, const std::string& dir) {
    std::ifstream file(dir + "/case.json");
    settings_ = nlohmann::json::parse(file);
    model_ = load_model(fixtures_dir + "/" + settings_["model"].get<std::string>(), at::kFloat, c10::Device(c10::kCPU));
    const io::SafetensorsFile inputs(dir + "/inputs.safetensors");
    latents_ = inputs.load("latents");
    prompt_ = inputs.load("prompt_embeds");
    negative_ = inputs.load("negative_prompt_embeds");
    expected_ = std::make_unique<io::SafetensorsFile>(dir + "/expected.safetensors");
  }

  at::Tensor run_loop() {
    FlowMatchEulerDiscreteConfig scheduler_config;
    scheduler_config.shift = settings_["scheduler_shift"];
    FlowMatchEulerDiscreteScheduler scheduler(scheduler_config);
    DenoiseOptions options;
    options.steps = settings_["steps"];
    options.guidance_scale = settings_["guidance_scale"];
    options.guidance_mode = GuidanceMode::batch;
    return denoise(*model_, scheduler, {latents_, prompt_, negative_}, options);
  }

  nlohmann::json settings_;
  std::shared_ptr<Model> model_;
  at::Tensor latents_, prompt_, negative_;
  std::unique_ptr<io::SafetensorsFile> expected_;
};

}  // namespace tessera::testing
