#pragma once
// What a user asks of a pipeline, what a pipeline fills in when they leave it out, and the resolved request.
#include <cstdint>
#include <optional>
#include <string>

namespace tessera {

// What a request leaves out: the family's defaults (diffusers' __call__ defaults), then model_index.json's
// "defaults" over them.
struct GenerationDefaults {
  int64_t height = 480, width = 832, frames = 81;
  int steps = 50;
  double guidance_scale = 5.0;
  std::string negative_prompt;
};

struct GenerationRequest {
  std::string prompt;
  std::optional<std::string> negative_prompt;
  std::optional<int> steps;
  std::optional<double> guidance_scale;
  // The second expert's scale (Wan2.2's low-noise transformer_2); only a two-expert folder takes it.
  std::optional<double> guidance_scale_2;
  uint64_t seed = 0;
  std::optional<int64_t> height, width, frames;
};

// A request with every field resolved and checked.
struct Generation {
  std::string prompt, negative_prompt;
  int steps = 0;
  double guidance_scale = 0;
  // Set for a folder with two experts (the request's, else guidance_scale, as diffusers defaults it); unset
  // otherwise.
  std::optional<double> guidance_scale_2;
  uint64_t seed = 0;
  int64_t height = 0, width = 0, frames = 0;
};

}  // namespace tessera
