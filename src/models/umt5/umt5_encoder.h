#pragma once
// transformers' UMT5EncoderModel, or T5EncoderModel (config.shared_position_bias), with its checkpoint's parameter
// names: "shared" (the token embedding),
// "encoder.block.N" and "encoder.final_layer_norm". Gives the last hidden state.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>
#include <torch/nn/module.h>

#include <memory>
#include <string>

#include "src/models/part_config.h"
#include "src/models/umt5/umt5_config.h"

namespace tessera {

class Umt5Block;
class Embedding;
class Umt5LayerNorm;

class Umt5Encoder : public torch::nn::Module {
 public:
  explicit Umt5Encoder(const Umt5Config& config);
  // input_ids [batch, tokens] int64; attention_mask [batch, tokens] (any dtype, nonzero on tokens to attend to)
  // or undefined for all. Returns [batch, tokens, d_model] in the weights' dtype; rows at masked positions are
  // computed too (they attend to the unmasked ones), as transformers does.
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask) const;
  const Umt5Config& config() const { return config_; }

 private:
  Umt5Config config_;
  std::shared_ptr<Embedding> shared_;
  std::vector<std::shared_ptr<Umt5Block>> blocks_;
  std::shared_ptr<Umt5LayerNorm> final_layer_norm_;
};

// The encoder in a transformers text_encoder/ folder (config.json and model.safetensors, or shards with
// their index), its weights in `dtype` on `device`. A checkpoint's tied copy of the embedding
// ("encoder.embed_tokens.weight" beside "shared.weight") is ignored. Throws tessera::Error naming the file for a
// bad config, missing, unexpected or wrongly shaped tensors, or an unreadable safetensors file.
std::shared_ptr<Umt5Encoder> load_umt5_encoder(const PartConfig& text_encoder, c10::ScalarType dtype,
                                               c10::Device device);

}  // namespace tessera
