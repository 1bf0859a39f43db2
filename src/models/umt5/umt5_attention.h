#pragma once
// UMT5's self-attention ("SelfAttention"): q, k, v, o without bias, no 1/sqrt(d_kv) scaling (T5 folds it into the
// weights), and a learned bias per head and relative-position bucket added to the scores. Every UMT5 layer has
// its own bias table ("relative_attention_bias", [num_buckets, num_heads]); in T5 only the first layer has one.
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include "src/models/layers.h"
#include "src/models/umt5/umt5_config.h"
#include "src/models/embedding_layer.h"

namespace tessera {

class Umt5Attention : public torch::nn::Module {
 public:
  Umt5Attention(const Umt5Config& config, bool has_relative_attention_bias);
  // This layer's bias for buckets [tokens, tokens] (from relative_position_buckets): [1, heads, tokens, tokens]
  // fp32. Only for a layer that has the table.
  at::Tensor position_bias(const at::Tensor& buckets) const;
  // hidden_states [batch, tokens, d_model] in the weights' dtype; position_bias from position_bias() (this
  // layer's, or in T5 the first layer's); additive_mask [batch, 1, 1, tokens] fp32 (0 or a large negative on
  // padding). Scores, bias and softmax in fp32. Returns [batch, tokens, d_model] in the weights' dtype.
  at::Tensor forward(const at::Tensor& hidden_states, const at::Tensor& position_bias,
                     const at::Tensor& additive_mask) const;

 private:
  int64_t num_heads_, d_kv_;
  std::shared_ptr<Linear> q_, k_, v_, o_;
  std::shared_ptr<Embedding> relative_attention_bias_;
};

}  // namespace tessera
