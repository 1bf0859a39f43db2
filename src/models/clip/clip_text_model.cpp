#include "src/models/clip/clip_text_model.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/modulelist.h>

#include "common/check.h"
#include "src/io/weight_source.h"
#include "src/models/clip/clip_checkpoint.h"
#include "parallel/sharded_weights.h"
#include "src/models/load_part.h"
#include "src/models/load_sharded.h"
#include "src/models/clip/clip_encoder_layer.h"
#include "src/models/layers.h"
#include "src/models/parameters.h"
#include "src/models/embedding_layer.h"

namespace tessera {
namespace {

// transformers' nesting: "text_model" holds "embeddings", "encoder.layers" and "final_layer_norm".
class ClipTextEmbeddings : public torch::nn::Module {
 public:
  ClipTextEmbeddings(const ClipTextConfig& config, std::shared_ptr<Embedding>& token,
                     std::shared_ptr<Embedding>& position) {
    token = register_module("token_embedding",
                            std::make_shared<Embedding>(config.vocab_size, config.hidden_size, 0.02));
    position = register_module("position_embedding", std::make_shared<Embedding>(
                                                         config.max_position_embeddings, config.hidden_size, 0.02));
  }
};

class ClipEncoder : public torch::nn::Module {
 public:
  ClipEncoder(const ClipTextConfig& config, std::vector<std::shared_ptr<ClipEncoderLayer>>& layers) {
    auto list = register_module("layers", torch::nn::ModuleList());
    for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
      layers.push_back(std::make_shared<ClipEncoderLayer>(config.layer()));
      list->push_back(layers.back());
    }
  }
};

class ClipTextTransformer : public torch::nn::Module {
 public:
  ClipTextTransformer(const ClipTextConfig& config, std::shared_ptr<Embedding>& token,
                      std::shared_ptr<Embedding>& position, std::vector<std::shared_ptr<ClipEncoderLayer>>& layers,
                      std::shared_ptr<Fp32LayerNorm>& final_layer_norm) {
    build(*this, config, token, position, layers, final_layer_norm);
  }
  static void build(torch::nn::Module& parent, const ClipTextConfig& config, std::shared_ptr<Embedding>& token,
                    std::shared_ptr<Embedding>& position, std::vector<std::shared_ptr<ClipEncoderLayer>>& layers,
                    std::shared_ptr<Fp32LayerNorm>& final_layer_norm) {
    parent.register_module("embeddings", std::make_shared<ClipTextEmbeddings>(config, token, position));
    parent.register_module("encoder", std::make_shared<ClipEncoder>(config, layers));
    final_layer_norm = parent.register_module(
        "final_layer_norm", std::make_shared<Fp32LayerNorm>(config.hidden_size, config.layer_norm_eps, true));
  }
};

}  // namespace

ClipTextModel::ClipTextModel(const ClipTextConfig& config, bool text_model_prefix)
    : config_(config), prefix_(text_model_prefix ? "text_model." : "") {
  if (text_model_prefix) {
    register_module("text_model", std::make_shared<ClipTextTransformer>(config, token_embedding_,
                                                                        position_embedding_, layers_, final_layer_norm_));
  } else {
    ClipTextTransformer::build(*this, config, token_embedding_, position_embedding_, layers_, final_layer_norm_);
  }
}

ClipTextOutput ClipTextModel::forward(const at::Tensor& input_ids) const {
  TESSERA_CHECK(input_ids.dim() == 2 && input_ids.scalar_type() == at::kLong,
                "CLIP input_ids must be [batch, tokens] int64, got ", input_ids.sizes(), " ", input_ids.scalar_type());
  const int64_t batch = input_ids.size(0), tokens = input_ids.size(1);
  TESSERA_CHECK(tokens >= 1 && tokens <= config_.max_position_embeddings, "CLIP input of ", tokens,
                " tokens; the text encoder has ", config_.max_position_embeddings, " positions");
  TESSERA_CHECK(!input_ids.numel() || (input_ids.min().item<int64_t>() >= 0 &&
                                       input_ids.max().item<int64_t>() < config_.vocab_size),
                "CLIP input_ids must lie in [0, ", config_.vocab_size, "), the text encoder's vocabulary; the "
                "tokenizer does not match the text encoder");
  // Unit by unit as weight_unit_paths() lists them (no-ops when the weights are held whole).
  ShardedWeights* const sharded = sharded_weights();
  const GatheredUnit outside_units(sharded, 0);
  size_t unit = 1;
  at::Tensor hidden;
  {
    const GatheredUnit embeddings(sharded, unit++);
    const at::Tensor positions = at::arange(tokens, input_ids.options());
    hidden = token_embedding_->forward(input_ids) + position_embedding_->forward(positions).unsqueeze(0);
  }
  for (const auto& layer : layers_) {
    const GatheredUnit weights(sharded, unit++);
    hidden = layer->forward(hidden);
  }
  at::Tensor last_hidden_state;
  {
    const GatheredUnit final_norm(sharded, unit);
    last_hidden_state = final_layer_norm_->forward(hidden);
  }
  // transformers' rule, with its int32 cast and argmax (the first maximum): either the largest id (legacy) or
  // the first end token (position 0 when a row has none).
  const at::Tensor ids = input_ids.to(at::kInt);
  const at::Tensor end_positions =
      config_.legacy_pooling() ? ids.argmax(-1) : (ids == config_.eos_token_id).to(at::kInt).argmax(-1);
  const at::Tensor rows = at::arange(batch, input_ids.options());
  return {.last_hidden_state = last_hidden_state, .pooled = last_hidden_state.index({rows, end_positions})};
}

std::vector<std::string> ClipTextModel::weight_unit_paths() const {
  std::vector<std::string> paths = {prefix_ + "embeddings"};
  for (size_t i = 0; i < layers_.size(); ++i) paths.push_back(detail::concat(prefix_, "encoder.layers.", i));
  paths.push_back(prefix_ + "final_layer_norm");
  return paths;
}


std::shared_ptr<ClipTextModel> load_clip_text_model(const PartConfig& text_encoder, c10::ScalarType dtype,
                                                    c10::Device device, std::shared_ptr<Communicator> shard_group) {
  const ClipTextConfig config = clip_text_config_from_json(text_encoder.json(), text_encoder.path());
  io::WeightSource source = io::WeightSource::open_dir(text_encoder.dir());
  const bool prefixed = clip_tower_prefixed(source, "text_model.", "embeddings.token_embedding.weight");
  const auto build = [&config, prefixed] { return std::make_shared<ClipTextModel>(config, prefixed); };
  if (shard_group == nullptr) return load_part(build, source, dtype, device);
  return load_part_shares(build, source, [dtype](const std::string&) { return dtype; }, device,
                          std::move(shard_group));
}

}  // namespace tessera
