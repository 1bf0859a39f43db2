#pragma once
// The FLUX cache fixture (tests/fixtures/flux_caches, scripts/fixtures/flux_caches.py): its case (caches, sigmas,
// steps), the tiny FLUX model it names and its inputs, and its plain flow-matching Euler loop. Shared by the
// parity test against diffusers and the context-parallel consistency test.
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "cache/enable_cache.h"
#include "common/check.h"
#include "hooks/args.h"
#include "src/io/safetensors.h"
#include "src/models/load_model.h"
#include "src/models/model.h"

namespace tessera::testing {

struct FluxCacheFixture {
  nlohmann::json case_json;
  std::shared_ptr<Model> model;
  Args inputs;

  // `folder`: the fixture's folder under fixtures_dir (tests/fixtures/dbcache/flux has the same layout).
  static FluxCacheFixture load(const std::string& fixtures_dir, const std::string& folder = "flux_caches") {
    FluxCacheFixture fixture;
    std::ifstream file(detail::concat(fixtures_dir, "/", folder, "/case.json"));
    fixture.case_json = nlohmann::json::parse(file);
    fixture.model = load_model(fixtures_dir + "/" + fixture.case_json["model"].get<std::string>(), at::kFloat,
                               c10::Device(c10::kCPU));
    const io::SafetensorsFile file_inputs(detail::concat(fixtures_dir, "/", folder, "/inputs.safetensors"));
    for (const std::string& name : file_inputs.names()) fixture.inputs.set(name, file_inputs.load(name));
    return fixture;
  }

  // The model at sigma_k, then latents += (sigma_{k+1} - sigma_k) * output; every step's output. With `cached`,
  // the enabled cache is told each step's timestep.
  std::vector<at::Tensor> run_loop(bool cached) {
    const auto sigmas = case_json["sigmas"].get<std::vector<double>>();
    at::Tensor latents = inputs.tensor("hidden_states");
    std::vector<at::Tensor> outputs;
    for (size_t step = 0; step < case_json["steps"].get<size_t>(); ++step) {
      if (cached) set_cache_timestep(*model, sigmas[step] * 1000);
      Args args = inputs;
      args.set("hidden_states", latents);
      args.set("timestep", at::full({latents.size(0)}, sigmas[step]));
      outputs.push_back((*model)(args).at(0));
      latents = latents + (sigmas[step + 1] - sigmas[step]) * outputs.back();
    }
    return outputs;
  }
};

}  // namespace tessera::testing
