#pragma once
// CLIP's self-attention ("self_attn"): q_proj, k_proj, v_proj and out_proj with biases, scores scaled by
// 1/sqrt(head_dim); causal (each token sees itself and those before it) in CLIPTextModel, bidirectional in
// CLIPVisionModel.
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include "src/models/clip/clip_layer_config.h"
#include "src/models/layers.h"

namespace tessera {

class ClipAttention : public torch::nn::Module {
 public:
  explicit ClipAttention(const ClipLayerConfig& config);
  // hidden_states [batch, tokens, hidden_size] in the weights' dtype -> the same.
  at::Tensor forward(const at::Tensor& hidden_states) const;

 private:
  int64_t num_heads_, head_dim_;
  bool causal_;
  std::shared_ptr<Linear> q_proj_, k_proj_, v_proj_, out_proj_;
};

}  // namespace tessera
