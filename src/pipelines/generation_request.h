#pragma once
// What a user asks of a pipeline, what a pipeline fills in when they leave it out, and the resolved request.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "src/io/frames.h"

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
  // An image-to-video folder's first frame (required there, refused elsewhere) and, for first-and-last-frame
  // generation, its last: PNG or JPEG files.
  std::optional<std::string> image, last_image;
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
  // The request's images, read (one RGB frame each, at the file's own size); null when not given.
  std::shared_ptr<const io::FrameBuffer> image, last_image;
};

}  // namespace tessera
