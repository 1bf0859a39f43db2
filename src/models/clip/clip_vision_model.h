#pragma once
// transformers' CLIPVisionModel with its checkpoint's parameter names ("embeddings.class_embedding",
// "embeddings.patch_embedding", "embeddings.position_embedding", "pre_layrnorm", "encoder.layers.N",
// "post_layernorm", each under "vision_model." in checkpoints saved by transformers 4): the ViT image encoder of
// Wan2.1's image-to-video pipeline, which takes the penultimate layer's hidden states.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>
#include <torch/nn/module.h>

#include <memory>
#include <vector>

#include "src/models/clip/clip_vision_config.h"
#include "src/models/part_config.h"

namespace tessera {

class ClipEncoderLayer;
class ClipVisionEmbeddings;
class Fp32LayerNorm;

struct ClipVisionOutput {
  at::Tensor last_hidden_state;  // [batch, tokens, hidden_size]: the last layer's output (no post_layernorm)
  at::Tensor pooled;             // [batch, hidden_size]: the class token of last_hidden_state after post_layernorm
};

class ClipVisionModel : public torch::nn::Module {
 public:
  // vision_model_prefix: the parameters under "vision_model." as transformers 4 saved them (Wan2.1's
  // image_encoder/); transformers 5 saves them without it.
  explicit ClipVisionModel(const ClipVisionConfig& config, bool vision_model_prefix = false);

  // Each takes pixel_values [batch, num_channels, image_size, image_size], floating point (as CLIPImageProcessor
  // gives them: resized, cropped and normalised), cast to the weights' dtype; outputs are in the weights' dtype
  // with num_positions() tokens, the class token first.

  // transformers' hidden_states[index] (output_hidden_states=True): index 0 is the embeddings after pre_layrnorm,
  // i the output of layer i; negative counts from the end as Python does (-1: the last layer). Runs only the layers
  // the index needs.
  at::Tensor hidden_state(const at::Tensor& pixel_values, int64_t index) const;
  // hidden_states[-2], what WanImageToVideoPipeline encodes an image to: every layer but the last.
  at::Tensor penultimate_hidden_state(const at::Tensor& pixel_values) const { return hidden_state(pixel_values, -2); }
  // Every layer: last_hidden_state and pooler_output.
  ClipVisionOutput forward(const at::Tensor& pixel_values) const;
  const ClipVisionConfig& config() const { return config_; }

 private:
  ClipVisionConfig config_;
  std::shared_ptr<ClipVisionEmbeddings> embeddings_;
  std::shared_ptr<Fp32LayerNorm> pre_layrnorm_, post_layernorm_;
  std::vector<std::shared_ptr<ClipEncoderLayer>> layers_;
};

// The model in a transformers image_encoder/ folder (config.json and model.safetensors, or shards with their
// index), its weights in `dtype` on `device`; names with or without "vision_model." are read, and a stored
// "embeddings.position_ids" buffer (older checkpoints) is ignored. Throws tessera::Error naming the file for a bad
// config, missing, unexpected or wrongly shaped tensors, or an unreadable safetensors file.
std::shared_ptr<ClipVisionModel> load_clip_vision_model(const PartConfig& image_encoder, c10::ScalarType dtype,
                                                        c10::Device device);

}  // namespace tessera
