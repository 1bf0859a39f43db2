#include "src/models/umt5/umt5_encoder.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/modulelist.h>

#include <limits>

#include "common/check.h"
#include "src/io/weight_source.h"
#include "parallel/sharded_weights.h"
#include "src/models/load_part.h"
#include "src/models/load_sharded.h"
#include "src/models/parameters.h"
#include "src/models/umt5/umt5_block.h"
#include "src/models/embedding_layer.h"
#include "src/models/umt5/umt5_layer_norm.h"
#include "src/models/umt5/umt5_position_buckets.h"

namespace tessera {
namespace {

// The blocks and final norm under "encoder", as transformers nests them.
class Umt5Stack : public torch::nn::Module {
 public:
  Umt5Stack(const Umt5Config& config, std::vector<std::shared_ptr<Umt5Block>>& blocks,
            std::shared_ptr<Umt5LayerNorm>& final_layer_norm) {
    auto block = register_module("block", torch::nn::ModuleList());
    for (int64_t i = 0; i < config.num_layers; ++i) {
      blocks.push_back(std::make_shared<Umt5Block>(config, !config.shared_position_bias || i == 0));
      block->push_back(blocks.back());
    }
    final_layer_norm = register_module("final_layer_norm",
                                       std::make_shared<Umt5LayerNorm>(config.d_model, config.layer_norm_epsilon));
  }
};

}  // namespace

Umt5Encoder::Umt5Encoder(const Umt5Config& config) : config_(config) {
  shared_ = register_module("shared", std::make_shared<Embedding>(config.vocab_size, config.d_model, 1.0));
  register_module("encoder", std::make_shared<Umt5Stack>(config, blocks_, final_layer_norm_));
}

at::Tensor Umt5Encoder::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask) const {
  TESSERA_CHECK(input_ids.dim() == 2, "UMT5 input_ids must be [batch, tokens], got ", input_ids.sizes());
  const int64_t batch = input_ids.size(0), tokens = input_ids.size(1);
  TESSERA_CHECK(!input_ids.numel() || (input_ids.min().item<int64_t>() >= 0 &&
                                       input_ids.max().item<int64_t>() < config_.vocab_size),
                "UMT5 input_ids must lie in [0, ", config_.vocab_size, "), the encoder's vocabulary; the tokenizer "
                "does not match the text encoder");
  at::Tensor additive_mask = at::zeros({batch, 1, 1, tokens}, input_ids.options().dtype(at::kFloat));
  if (attention_mask.defined()) {
    TESSERA_CHECK(attention_mask.sizes() == input_ids.sizes(), "UMT5 attention_mask ", attention_mask.sizes(),
                  " must match input_ids ", input_ids.sizes());
    // A large negative rather than -inf: a row with every key masked stays finite, as in transformers.
    additive_mask.masked_fill_((attention_mask == 0).view({batch, 1, 1, tokens}),
                               std::numeric_limits<float>::lowest());
  }
  const at::Tensor buckets = relative_position_buckets(tokens, tokens, config_.relative_attention_num_buckets,
                                                       config_.relative_attention_max_distance, input_ids.device());
  // Unit by unit as weight_unit_paths() lists them (no-ops when the weights are held whole).
  ShardedWeights* const sharded = sharded_weights();
  const GatheredUnit outside_units(sharded, 0);
  size_t unit = 1;
  at::Tensor hidden;
  {
    const GatheredUnit embedding(sharded, unit++);
    hidden = shared_->forward(input_ids).to(at::kFloat);
  }
  // T5 computes the first block's bias once and adds it in every block; UMT5's blocks each have their own.
  at::Tensor shared_bias;
  for (const auto& block : blocks_) {
    const GatheredUnit weights(sharded, unit++);
    if (config_.shared_position_bias && !shared_bias.defined()) shared_bias = block->position_bias(buckets);
    hidden = block->forward(hidden, shared_bias.defined() ? shared_bias : block->position_bias(buckets), additive_mask);
  }
  const GatheredUnit final_norm(sharded, unit);
  return final_layer_norm_->forward(hidden);
}

std::vector<std::string> Umt5Encoder::weight_unit_paths() const {
  std::vector<std::string> paths = {"shared"};
  for (size_t i = 0; i < blocks_.size(); ++i) paths.push_back(detail::concat("encoder.block.", i));
  paths.emplace_back("encoder.final_layer_norm");
  return paths;
}


std::shared_ptr<Umt5Encoder> load_umt5_encoder(const PartConfig& text_encoder, c10::ScalarType dtype,
                                               c10::Device device, std::shared_ptr<Communicator> shard_group) {
  const Umt5Config config = umt5_config_from_json(text_encoder.json(), text_encoder.path());
  io::WeightSource source = io::WeightSource::open_dir(text_encoder.dir());
  // transformers ties the encoder's embedding to "shared"; older checkpoints store the same tensor twice.
  if (source.contains("shared.weight")) source.forget("encoder.embed_tokens.weight");
  // transformers keeps the feed-forward's output projection in fp32 (_keep_in_fp32_modules): its activations
  // overflow fp16 and lose too much in bf16.
  const auto dtype_of = [dtype](const std::string& name) {
    return name.find(".DenseReluDense.wo.") != std::string::npos ? at::kFloat : dtype;
  };
  const auto build = [&config] { return std::make_shared<Umt5Encoder>(config); };
  if (shard_group == nullptr) return load_part(build, source, dtype_of, device);
  return load_part_shares(build, source, dtype_of, device, std::move(shard_group));
}

}  // namespace tessera
