#pragma once
// One UMT5 encoder layer ("encoder.block.N"): "layer.0" is pre-norm self-attention, "layer.1" the pre-norm
// feed-forward, each added back to the residual stream. The stream stays fp32 whatever the weights' dtype
// (transformers keeps "wo" in fp32 for the same reason: UMT5's activations outgrow fp16 and lose bf16 precision).
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include "src/models/umt5/umt5_attention.h"
#include "src/models/umt5/umt5_config.h"
#include "src/models/umt5/umt5_feed_forward.h"
#include "src/models/umt5/umt5_layer_norm.h"

namespace tessera {

class Umt5SelfAttentionLayer : public torch::nn::Module {
 public:
  Umt5SelfAttentionLayer(const Umt5Config& config, bool has_relative_attention_bias);
  std::shared_ptr<Umt5Attention> attention;  // "SelfAttention"
  std::shared_ptr<Umt5LayerNorm> layer_norm;
};

class Umt5FeedForwardLayer : public torch::nn::Module {
 public:
  explicit Umt5FeedForwardLayer(const Umt5Config& config);
  std::shared_ptr<Umt5FeedForward> feed_forward;  // "DenseReluDense"
  std::shared_ptr<Umt5LayerNorm> layer_norm;
};

class Umt5Block : public torch::nn::Module {
 public:
  Umt5Block(const Umt5Config& config, bool has_relative_attention_bias);
  at::Tensor position_bias(const at::Tensor& buckets) const;  // Umt5Attention::position_bias
  // hidden_states [batch, tokens, d_model] fp32 -> the same; position_bias and additive_mask as Umt5Attention takes.
  at::Tensor forward(const at::Tensor& hidden_states, const at::Tensor& position_bias,
                     const at::Tensor& additive_mask) const;

 private:
  std::shared_ptr<Umt5SelfAttentionLayer> self_attention_;
  std::shared_ptr<Umt5FeedForwardLayer> feed_forward_;
};

}  // namespace tessera
