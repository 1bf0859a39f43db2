#pragma once
// CLIP's self-attention ("self_attn"): q_proj, k_proj, v_proj and out_proj with biases, scores scaled by
// 1/sqrt(head_dim), causal (each token sees itself and those before it), as CLIPTextModel runs it.
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include "src/models/clip/clip_text_config.h"
#include "src/models/layers.h"

namespace tessera {

class ClipAttention : public torch::nn::Module {
 public:
  explicit ClipAttention(const ClipTextConfig& config);
  // hidden_states [batch, tokens, hidden_size] in the weights' dtype -> the same.
  at::Tensor forward(const at::Tensor& hidden_states) const;

 private:
  int64_t num_heads_, head_dim_;
  std::shared_ptr<Linear> q_proj_, k_proj_, v_proj_, out_proj_;
};

}  // namespace tessera
