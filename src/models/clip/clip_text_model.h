#pragma once
// transformers' CLIPTextModel with its checkpoint's parameter names ("text_model.embeddings.token_embedding",
// "text_model.embeddings.position_embedding", "text_model.encoder.layers.N", "text_model.final_layer_norm"): the
// causal text transformer, giving the final-normed hidden states and the pooled output (FLUX's CLIP input).
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>
#include <torch/nn/module.h>

#include <memory>
#include <string>
#include <vector>

#include "parallel/gathers_own_units.h"
#include "src/models/clip/clip_text_config.h"
#include "src/models/part_config.h"

namespace tessera {

class ClipEncoderLayer;
class Communicator;
class Fp32LayerNorm;
class Embedding;

struct ClipTextOutput {
  at::Tensor last_hidden_state;  // [batch, tokens, hidden_size], after final_layer_norm
  at::Tensor pooled;             // [batch, hidden_size]: last_hidden_state at each row's end token
};

class ClipTextModel : public torch::nn::Module, public GathersOwnUnits {
 public:
  // text_model_prefix: the parameters under "text_model." as CLIP checkpoints (FLUX.1's) store them; transformers 5
  // saves them without it.
  explicit ClipTextModel(const ClipTextConfig& config, bool text_model_prefix = true);
  // input_ids [batch, tokens] int64, tokens <= max_position_embeddings. No padding mask, as FLUX calls it (the
  // causal mask keeps padding after the end token from reaching it). Outputs in the weights' dtype. The pooled
  // row is the first position of eos_token_id, or with the legacy eos_token_id 2 the first of the largest id.
  // Sharded (--shard-weights), each unit's weights are gathered from the group as the forward reaches it.
  ClipTextOutput forward(const at::Tensor& input_ids) const;
  const ClipTextConfig& config() const { return config_; }

  // The units its weights are sharded in, in the order forward() runs them: the embeddings, each layer, the final
  // norm (unit 0, what none covers, is empty).
  std::vector<std::string> weight_unit_paths() const;

 private:
  ClipTextConfig config_;
  std::string prefix_;  // "text_model." or ""
  std::shared_ptr<Embedding> token_embedding_, position_embedding_;
  std::vector<std::shared_ptr<ClipEncoderLayer>> layers_;
  std::shared_ptr<Fp32LayerNorm> final_layer_norm_;
};

// The model in a transformers text_encoder/ folder (config.json and model.safetensors, or shards with their
// index), its weights in `dtype` on `device`. A stored "text_model.embeddings.position_ids" buffer (older
// checkpoints) is ignored; names with or without "text_model." are read. Throws tessera::Error naming the file for a bad config, missing, unexpected or wrongly
// shaped tensors, or an unreadable safetensors file. With a `shard_group` (--shard-weights), the rank loads only its
// share of each weight and every rank of the group must load it, as load_umt5_encoder.
std::shared_ptr<ClipTextModel> load_clip_text_model(const PartConfig& text_encoder, c10::ScalarType dtype,
                                                    c10::Device device,
                                                    std::shared_ptr<Communicator> shard_group = nullptr);

}  // namespace tessera
