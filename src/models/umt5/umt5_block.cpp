#include "src/models/umt5/umt5_block.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/modulelist.h>

namespace tessera {

Umt5SelfAttentionLayer::Umt5SelfAttentionLayer(const Umt5Config& config, bool has_relative_attention_bias) {
  attention =
      register_module("SelfAttention", std::make_shared<Umt5Attention>(config, has_relative_attention_bias));
  layer_norm =
      register_module("layer_norm", std::make_shared<Umt5LayerNorm>(config.d_model, config.layer_norm_epsilon));
}

Umt5FeedForwardLayer::Umt5FeedForwardLayer(const Umt5Config& config) {
  feed_forward = register_module("DenseReluDense", std::make_shared<Umt5FeedForward>(config));
  layer_norm =
      register_module("layer_norm", std::make_shared<Umt5LayerNorm>(config.d_model, config.layer_norm_epsilon));
}

Umt5Block::Umt5Block(const Umt5Config& config, bool has_relative_attention_bias) {
  auto layers = register_module("layer", torch::nn::ModuleList());
  self_attention_ = std::make_shared<Umt5SelfAttentionLayer>(config, has_relative_attention_bias);
  feed_forward_ = std::make_shared<Umt5FeedForwardLayer>(config);
  layers->push_back(self_attention_);
  layers->push_back(feed_forward_);
}

at::Tensor Umt5Block::position_bias(const at::Tensor& buckets) const {
  return self_attention_->attention->position_bias(buckets);
}

at::Tensor Umt5Block::forward(const at::Tensor& hidden_states, const at::Tensor& position_bias,
                              const at::Tensor& additive_mask) const {
  const at::Tensor attended = self_attention_->attention->forward(
      self_attention_->layer_norm->forward(hidden_states), position_bias, additive_mask);
  const at::Tensor after_attention = hidden_states + attended.to(at::kFloat);
  const at::Tensor fed = feed_forward_->feed_forward->forward(feed_forward_->layer_norm->forward(after_attention));
  return after_attention + fed.to(at::kFloat);
}

}  // namespace tessera
