#include "src/models/clip/clip_attention.h"

#include <ATen/ATen.h>

namespace tessera {

ClipAttention::ClipAttention(const ClipLayerConfig& config)
    : num_heads_(config.num_attention_heads), head_dim_(config.head_dim()), causal_(config.causal) {
  // Registered in transformers' order (k, v, q, out), so a listing of the parameters reads as its.
  k_proj_ = register_module("k_proj", std::make_shared<Linear>(config.hidden_size, config.hidden_size));
  v_proj_ = register_module("v_proj", std::make_shared<Linear>(config.hidden_size, config.hidden_size));
  q_proj_ = register_module("q_proj", std::make_shared<Linear>(config.hidden_size, config.hidden_size));
  out_proj_ = register_module("out_proj", std::make_shared<Linear>(config.hidden_size, config.hidden_size));
}

at::Tensor ClipAttention::forward(const at::Tensor& hidden_states) const {
  const int64_t batch = hidden_states.size(0), tokens = hidden_states.size(1);
  const auto heads = [&](const at::Tensor& x) { return x.view({batch, tokens, num_heads_, head_dim_}).transpose(1, 2); };
  const at::Tensor attended = at::scaled_dot_product_attention(
      heads(q_proj_->forward(hidden_states)), heads(k_proj_->forward(hidden_states)),
      heads(v_proj_->forward(hidden_states)), /*attn_mask=*/{}, /*dropout_p=*/0.0, /*is_causal=*/causal_);
  return out_proj_->forward(attended.transpose(1, 2).reshape({batch, tokens, num_heads_ * head_dim_}));
}

}  // namespace tessera
