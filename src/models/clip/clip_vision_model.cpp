#include "src/models/clip/clip_vision_model.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/modulelist.h>

#include <cmath>

#include "common/check.h"
#include "src/io/weight_source.h"
#include "src/models/clip/clip_checkpoint.h"
#include "src/models/clip/clip_encoder_layer.h"
#include "src/models/embedding_layer.h"
#include "src/models/layers.h"
#include "src/models/load_part.h"
#include "src/models/parameters.h"

namespace tessera {
namespace {

// "patch_embedding": a Conv2d with the patch as kernel and stride and no bias, "weight" [hidden, channels, p, p].
class ClipPatchEmbedding : public torch::nn::Module {
 public:
  ClipPatchEmbedding(int64_t channels, int64_t hidden, int64_t patch) : patch_(patch) {
    weight_ = register_parameter(
        "weight", uniform_parameter({hidden, channels, patch, patch},
                                    1.0 / std::sqrt(static_cast<double>(channels * patch * patch))));
  }
  // [batch, channels, height, width] -> [batch, hidden, height / patch, width / patch]
  at::Tensor forward(const at::Tensor& pixels) const { return at::conv2d(pixels, weight_, {}, {patch_, patch_}); }
  const at::Tensor& weight() const { return weight_; }

 private:
  int64_t patch_;
  at::Tensor weight_;
};

}  // namespace

// "embeddings": the class token, then one token per patch in row-major order, each plus its position's row.
class ClipVisionEmbeddings : public torch::nn::Module {
 public:
  explicit ClipVisionEmbeddings(const ClipVisionConfig& config) : config_(config) {
    class_embedding_ = register_parameter("class_embedding", normal_parameter({config.hidden_size}, 1.0));
    patch_embedding_ = register_module(
        "patch_embedding",
        std::make_shared<ClipPatchEmbedding>(config.num_channels, config.hidden_size, config.patch_size));
    position_embedding_ = register_module(
        "position_embedding", std::make_shared<Embedding>(config.num_positions(), config.hidden_size, 0.02));
  }

  at::Tensor forward(const at::Tensor& pixel_values) const {
    TESSERA_CHECK(pixel_values.dim() == 4 && at::isFloatingType(pixel_values.scalar_type()),
                  "CLIP vision pixel_values must be [batch, channels, height, width] floating point, got ",
                  pixel_values.sizes(), " ", pixel_values.scalar_type());
    TESSERA_CHECK(pixel_values.size(1) == config_.num_channels, "CLIP vision pixel_values have ", pixel_values.size(1),
                  " channels; the image encoder takes ", config_.num_channels, " (\"num_channels\")");
    const int64_t height = pixel_values.size(2), width = pixel_values.size(3);
    TESSERA_CHECK(height == config_.image_size && width == config_.image_size, "CLIP vision input of ", height, "x",
                  width, " pixels; the image encoder takes ", config_.image_size, "x", config_.image_size,
                  " (\"image_size\"): resize and crop the image as its CLIPImageProcessor does");
    const int64_t batch = pixel_values.size(0);
    const at::Tensor patches =
        patch_embedding_->forward(pixel_values.to(patch_embedding_->weight().scalar_type())).flatten(2).transpose(1, 2);
    const at::Tensor tokens = at::cat({class_embedding_.expand({batch, 1, config_.hidden_size}), patches}, 1);
    const at::Tensor positions = at::arange(config_.num_positions(), pixel_values.options().dtype(at::kLong));
    return tokens + position_embedding_->forward(positions).unsqueeze(0);
  }

 private:
  ClipVisionConfig config_;
  at::Tensor class_embedding_;
  std::shared_ptr<ClipPatchEmbedding> patch_embedding_;
  std::shared_ptr<Embedding> position_embedding_;
};

ClipVisionModel::ClipVisionModel(const ClipVisionConfig& config, bool vision_model_prefix) : config_(config) {
  // One tree either way: the modules hang from "vision_model" or from the model itself.
  torch::nn::Module& root =
      vision_model_prefix ? *register_module("vision_model", std::make_shared<torch::nn::Module>()) : *this;
  embeddings_ = root.register_module("embeddings", std::make_shared<ClipVisionEmbeddings>(config));
  pre_layrnorm_ = root.register_module(
      "pre_layrnorm", std::make_shared<Fp32LayerNorm>(config.hidden_size, config.layer_norm_eps, true));
  auto encoder = root.register_module("encoder", std::make_shared<torch::nn::Module>());
  auto list = encoder->register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    layers_.push_back(std::make_shared<ClipEncoderLayer>(config.layer()));
    list->push_back(layers_.back());
  }
  post_layernorm_ = root.register_module(
      "post_layernorm", std::make_shared<Fp32LayerNorm>(config.hidden_size, config.layer_norm_eps, true));
}

at::Tensor ClipVisionModel::hidden_state(const at::Tensor& pixel_values, int64_t index) const {
  const int64_t count = config_.num_hidden_layers + 1;
  TESSERA_CHECK(index >= -count && index < count, "CLIP vision hidden state ", index, " does not exist; the model has ",
                count, " (the embeddings and ", config_.num_hidden_layers, " layers): use 0 to ",
                config_.num_hidden_layers, " or -1 to -", count);
  const int64_t layers = index < 0 ? index + count : index;
  at::Tensor hidden = pre_layrnorm_->forward(embeddings_->forward(pixel_values));
  for (int64_t i = 0; i < layers; ++i) hidden = layers_[static_cast<size_t>(i)]->forward(hidden);
  return hidden;
}

ClipVisionOutput ClipVisionModel::forward(const at::Tensor& pixel_values) const {
  const at::Tensor last_hidden_state = hidden_state(pixel_values, -1);
  return {.last_hidden_state = last_hidden_state,
          .pooled = post_layernorm_->forward(last_hidden_state.select(1, 0))};
}

std::shared_ptr<ClipVisionModel> load_clip_vision_model(const PartConfig& image_encoder, c10::ScalarType dtype,
                                                        c10::Device device) {
  const ClipVisionConfig config = clip_vision_config_from_json(image_encoder.json(), image_encoder.path());
  io::WeightSource source = io::WeightSource::open_dir(image_encoder.dir());
  const bool prefixed = clip_tower_prefixed(source, "vision_model.", "embeddings.class_embedding");
  source.forget("visual_projection.weight");  // CLIPVisionModelWithProjection's head: the pipeline never runs it
  return load_part([&config, prefixed] { return std::make_shared<ClipVisionModel>(config, prefixed); }, source,
                   dtype, device);
}

}  // namespace tessera
