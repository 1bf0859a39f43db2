#pragma once
// Prompt in, frames out: the text encoder, the initial noise, the denoising loop (guidance, context
// parallelism and caches as enabled on the transformer), the decoder. Loaded from a diffusers-layout
// pipeline folder (pipeline_index.h): diffusers' WanPipeline (Wan2.1 text-to-video: UMT5, the Wan transformer,
// the Wan VAE), FluxPipeline (FLUX.1 text-to-image: CLIP + T5, the FLUX transformer, AutoencoderKL; a still is
// a clip of one frame), or the embedded default model's TesseraShapesPipeline (models/tessera-shapes/).
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/pipelines/denoise_loop.h"

namespace tessera {

class Communicator;
class LatentDecoder;
class Model;
class Scheduler;
class TextEncoder;

// What a request leaves out, from model_index.json's "defaults".
struct GenerationDefaults {
  int64_t height = 480, width = 832, frames = 81;
  int steps = 50;
  double guidance_scale = 5.0;
  std::string negative_prompt;
  // A prompt containing one of these words asks for motion: when the request gives no frame count it gets
  // motion_frames instead of frames (the embedded model draws stills at 1 frame, motion over 4).
  std::vector<std::string> motion_words;
  int64_t motion_frames = 0;
};

struct GenerationRequest {
  std::string prompt;
  std::optional<std::string> negative_prompt;
  std::optional<int> steps;
  std::optional<double> guidance_scale;
  uint64_t seed = 0;
  std::optional<int64_t> height, width, frames;
};

// A request with every field resolved and checked.
struct Generation {
  std::string prompt, negative_prompt;
  int steps = 0;
  double guidance_scale = 0;
  uint64_t seed = 0;
  int64_t height = 0, width = 0, frames = 0;
};

class TextToVideoPipeline {
 public:
  // Throws tessera::Error naming the folder, the part and its class for a missing or unknown part.
  static std::unique_ptr<TextToVideoPipeline> load(const std::string& dir, c10::ScalarType dtype, c10::Device device);
  ~TextToVideoPipeline();

  const std::string& dir() const { return dir_; }
  const std::string& class_name() const { return class_name_; }
  Model& transformer() { return *transformer_; }
  const std::shared_ptr<Model>& transformer_ptr() const { return transformer_; }
  const GenerationDefaults& defaults() const { return defaults_; }
  TextEncoder& text_encoder() { return *text_encoder_; }

  // Fills what `request` leaves out and checks it all before any work: the prompts' words, the sizes (a
  // multiple of what the model takes; the error names the nearest valid ones), steps and frames.
  Generation resolve(const GenerationRequest& request) const;

  // uint8 [frames, height, width, 3] on the CPU, identical on every rank. `loop` gives the guidance mode,
  // the CFG group and the progress callback; steps and guidance scale come from `generation`. A cache
  // enabled on the transformer is reset first. The decoder splits its work across `decode_group` (every rank
  // that ran this generation; nullptr: this rank decodes alone).
  at::Tensor generate(const Generation& generation, DenoiseOptions loop, Communicator* decode_group = nullptr);

 private:
  TextToVideoPipeline() = default;

  std::string dir_, class_name_;
  c10::ScalarType dtype_ = c10::ScalarType::Float;
  c10::Device device_{c10::kCPU};
  std::shared_ptr<Model> transformer_;
  std::unique_ptr<TextEncoder> text_encoder_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<LatentDecoder> decoder_;
  GenerationDefaults defaults_;
  int64_t size_multiple_ = 1;  // height and width must be multiples of this (decoder scale x patch)
  int64_t latent_channels_ = 0;
  // FluxPipeline: packed latents, pooled text, and the guidance scale as a model input (guidance-distilled
  // checkpoints) instead of classifier-free guidance.
  bool flux_ = false;
  bool guidance_embeds_ = false;
};

// The pipeline folder of the embedded default model: $TESSERA_MODEL_DIR's tessera-shapes, else the copy
// installed beside the executable (../share/tessera/models/tessera-shapes), else the source tree's
// models/tessera-shapes. Throws naming every place it looked.
std::string default_model_dir();

}  // namespace tessera
