#pragma once
// The MagCache/SeaCache fixture (tests/fixtures/mag_sea_caches/<wan|flux>, scripts/fixtures/mag_sea_caches.py):
// its case, the tiny model it names and its inputs, and its plain flow-matching Euler loop with diffusers'
// cache contexts ("cond", and "uncond" for Wan's classifier-free guidance). Shared by the parity test against
// diffusers and the context-parallel consistency test.
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cache/enable_cache.h"
#include "hooks/args.h"
#include "src/io/safetensors.h"
#include "src/models/load_model.h"
#include "src/models/model.h"

namespace tessera::testing {

struct MagSeaCacheFixture {
  nlohmann::json case_json;
  std::shared_ptr<Model> model;
  at::Tensor latents;
  std::map<std::string, Args> context_inputs;  // per context, the model's arguments besides latents and timestep

  static MagSeaCacheFixture load(const std::string& fixtures_dir, const std::string& name) {
    const std::string dir = fixtures_dir + "/mag_sea_caches/" + name;
    MagSeaCacheFixture fixture;
    std::ifstream file(dir + "/case.json");
    fixture.case_json = nlohmann::json::parse(file);
    fixture.model = load_model(fixtures_dir + "/" + fixture.case_json["model"].get<std::string>(), at::kFloat,
                               c10::Device(c10::kCPU));
    const io::SafetensorsFile inputs(dir + "/inputs.safetensors");
    Args shared;
    for (const std::string& input : inputs.names()) {
      if (input == "hidden_states") {
        fixture.latents = inputs.load(input);
      } else if (input != "prompt_embeds" && input != "negative_prompt_embeds") {
        shared.set(input, inputs.load(input));
      }
    }
    for (const std::string& context : fixture.case_json["contexts"].get<std::vector<std::string>>()) {
      Args args = shared;
      const std::string text = context == "uncond" ? "negative_prompt_embeds" : "prompt_embeds";
      if (inputs.contains(text)) args.set("encoder_hidden_states", inputs.load(text));
      fixture.context_inputs[context] = args;
    }
    return fixture;
  }

  // Every step's prediction (uncond + scale (cond - uncond) with two contexts). With `cached`, the enabled cache
  // is told each step and context as diffusers' cache_context(name, step_index, sigma, num_inference_steps).
  std::vector<at::Tensor> run_loop(bool cached) {
    const auto sigmas = case_json["sigmas"].get<std::vector<double>>();
    const auto steps = case_json["steps"].get<int64_t>();
    const double scale = case_json["timestep_scale"].get<double>();
    const double guidance = case_json["guidance_scale"].get<double>();
    const auto contexts = case_json["contexts"].get<std::vector<std::string>>();
    at::Tensor x = latents;
    std::vector<at::Tensor> predictions;
    for (int64_t k = 0; k < steps; ++k) {
      if (cached) set_cache_step(*model, {.index = k, .count = steps, .sigma = sigmas[k]});
      std::vector<at::Tensor> outputs;
      for (const std::string& context : contexts) {
        if (cached) cache_context(*model, context);
        Args args = context_inputs.at(context);
        args.set("hidden_states", x);
        args.set("timestep", at::full({x.size(0)}, sigmas[k] * scale, at::kFloat));
        outputs.push_back((*model)(args).at(0));
      }
      const at::Tensor prediction =
          outputs.size() == 1 ? outputs[0] : outputs[1] + guidance * (outputs[0] - outputs[1]);
      predictions.push_back(prediction);
      x = x + (sigmas[k + 1] - sigmas[k]) * prediction;
    }
    return predictions;
  }

  // Per model call, one letter per block in call order: C computed, S anything else.
  std::vector<std::string> decisions() {
    std::vector<std::string> calls;
    std::string context;
    int64_t step = -1;
    for (const CacheRecord& record : cache_records(*model)) {
      if (calls.empty() || record.step != step || record.context != context) calls.emplace_back();
      step = record.step;
      context = record.context;
      calls.back() += record.action == BlockAction::computed ? 'C' : 'S';
    }
    return calls;
  }
};

}  // namespace tessera::testing
