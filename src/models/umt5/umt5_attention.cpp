#include "src/models/umt5/umt5_attention.h"

#include <ATen/ATen.h>

#include <cmath>

#include "common/check.h"

namespace tessera {

Umt5Attention::Umt5Attention(const Umt5Config& config, bool has_relative_attention_bias)
    : num_heads_(config.num_heads), d_kv_(config.d_kv) {
  q_ = register_module("q", std::make_shared<Linear>(config.d_model, config.inner_dim(), /*bias=*/false));
  k_ = register_module("k", std::make_shared<Linear>(config.d_model, config.inner_dim(), /*bias=*/false));
  v_ = register_module("v", std::make_shared<Linear>(config.d_model, config.inner_dim(), /*bias=*/false));
  o_ = register_module("o", std::make_shared<Linear>(config.inner_dim(), config.d_model, /*bias=*/false));
  if (!has_relative_attention_bias) return;
  relative_attention_bias_ = register_module(
      "relative_attention_bias",
      std::make_shared<Embedding>(config.relative_attention_num_buckets, config.num_heads,
                                      1.0 / std::sqrt(static_cast<double>(config.d_model))));
}

at::Tensor Umt5Attention::position_bias(const at::Tensor& buckets) const {
  TESSERA_INTERNAL_ASSERT(relative_attention_bias_ != nullptr, "this T5 layer has no relative_attention_bias");
  // [tokens, tokens, heads] -> [1, heads, tokens, tokens]
  return relative_attention_bias_->forward(buckets).to(at::kFloat).permute({2, 0, 1}).unsqueeze(0);
}

at::Tensor Umt5Attention::forward(const at::Tensor& hidden_states, const at::Tensor& position_bias,
                                  const at::Tensor& additive_mask) const {
  const int64_t batch = hidden_states.size(0), tokens = hidden_states.size(1);
  const auto heads = [&](const at::Tensor& x) { return x.view({batch, tokens, num_heads_, d_kv_}).transpose(1, 2); };
  const at::Tensor q = heads(q_->forward(hidden_states));
  const at::Tensor k = heads(k_->forward(hidden_states));
  const at::Tensor v = heads(v_->forward(hidden_states));
  const at::Tensor scores = at::matmul(q, k.transpose(2, 3)).to(at::kFloat) + position_bias + additive_mask;
  const at::Tensor weights = at::softmax(scores, -1).to(v.scalar_type());
  const at::Tensor output = at::matmul(weights, v).transpose(1, 2).reshape({batch, tokens, num_heads_ * d_kv_});
  return o_->forward(output);
}

}  // namespace tessera
