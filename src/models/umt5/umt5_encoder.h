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
#include <vector>

#include "parallel/gathers_own_units.h"
#include "src/models/part_config.h"
#include "src/models/umt5/umt5_config.h"

namespace tessera {

class Communicator;
class Umt5Block;
class Embedding;
class Umt5LayerNorm;

class Umt5Encoder : public torch::nn::Module, public GathersOwnUnits {
 public:
  explicit Umt5Encoder(const Umt5Config& config);
  // input_ids [batch, tokens] int64; attention_mask [batch, tokens] (any dtype, nonzero on tokens to attend to)
  // or undefined for all. Returns [batch, tokens, d_model] in the weights' dtype; rows at masked positions are
  // computed too (they attend to the unmasked ones), as transformers does.
  // Sharded (--shard-weights), each unit's weights are gathered from the group as the forward reaches it.
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& attention_mask) const;
  const Umt5Config& config() const { return config_; }

  // The units its weights are sharded in, in the order forward() runs them: the embedding, each block, the final
  // norm (unit 0, what none covers, is empty).
  std::vector<std::string> weight_unit_paths() const;

 private:
  Umt5Config config_;
  std::shared_ptr<Embedding> shared_;
  std::vector<std::shared_ptr<Umt5Block>> blocks_;
  std::shared_ptr<Umt5LayerNorm> final_layer_norm_;
};

// The encoder in a transformers text_encoder/ folder (config.json and model.safetensors, or shards with
// their index), its weights in `dtype` on `device`. A checkpoint's tied copy of the embedding
// ("encoder.embed_tokens.weight" beside "shared.weight") is ignored. Throws tessera::Error naming the file for a
// bad config, missing, unexpected or wrongly shaped tensors, or an unreadable safetensors file. With a
// `shard_group` (--shard-weights), the rank loads only its share of each weight (src/models/load_sharded.h) and
// every rank of the group must load it; each forward then gathers the units on the rank that runs it, while the
// group's other ranks call accompany_forward().
std::shared_ptr<Umt5Encoder> load_umt5_encoder(const PartConfig& text_encoder, c10::ScalarType dtype,
                                               c10::Device device, std::shared_ptr<Communicator> shard_group = nullptr);

}  // namespace tessera
