#include "src/models/wan/wan_transformer_block.h"

#include <ATen/ATen.h>

#include <cmath>

#include "kernels/gated_residual.h"
#include "kernels/modulated_layer_norm.h"
#include "src/models/parameters.h"

namespace tessera {

WanTransformerBlock::WanTransformerBlock(int64_t dim, int64_t ffn_dim, int64_t num_heads, bool cross_attn_norm,
                                         double eps)
    : cross_attn_norm_(cross_attn_norm), eps_(eps) {
  norm1_ = register_module("norm1", std::make_shared<Fp32LayerNorm>(dim, eps, false));
  attn1_ = register_module("attn1", std::make_shared<WanAttention>(dim, num_heads, eps, false));
  attn2_ = register_module("attn2", std::make_shared<WanAttention>(dim, num_heads, eps, true));
  if (cross_attn_norm_) norm2_ = register_module("norm2", std::make_shared<Fp32LayerNorm>(dim, eps, true));
  ffn_ = register_module("ffn", std::make_shared<FeedForward>(dim, ffn_dim));
  norm3_ = register_module("norm3", std::make_shared<Fp32LayerNorm>(dim, eps, false));
  scale_shift_table_ = register_parameter("scale_shift_table", normal_parameter({1, 6, dim}, 1.0 / std::sqrt(dim)));
}

Outputs WanTransformerBlock::forward_impl(Args& args) {
  at::Tensor hidden_states = args.tensor("hidden_states");
  const at::Tensor& temb = args.tensor("temb");
  const auto dtype = hidden_states.scalar_type();
  // Six [B, 1, dim] (or [B, S, dim] per-token) modulation vectors in fp32.
  const bool per_token = temb.dim() == 4;
  const at::Tensor table = per_token ? scale_shift_table_.unsqueeze(0) : scale_shift_table_;
  auto modulation = (table + temb.to(at::kFloat)).chunk(6, per_token ? 2 : 1);
  if (per_token) {
    for (auto& m : modulation) m = m.squeeze(2);
  }
  const at::Tensor &shift_msa = modulation[0], &scale_msa = modulation[1], &gate_msa = modulation[2];
  const at::Tensor &c_shift_msa = modulation[3], &c_scale_msa = modulation[4], &c_gate_msa = modulation[5];

  // diffusers computes the modulation and the gated residuals in fp32 and casts once: Rounding::once.
  const at::Tensor attn_input = modulated_layer_norm(hidden_states, scale_msa, shift_msa, eps_, Rounding::once);
  const at::Tensor self_attended = (*attn1_)({{"hidden_states", attn_input},
                                              {"freqs_cos", args.tensor("freqs_cos")},
                                              {"freqs_sin", args.tensor("freqs_sin")}})
                                       .at(0);
  hidden_states = gated_residual(hidden_states, gate_msa, self_attended, Rounding::once);

  const at::Tensor cross_input =
      cross_attn_norm_ ? norm2_->forward(hidden_states.to(at::kFloat)).to(dtype) : hidden_states;
  hidden_states = hidden_states + (*attn2_)({{"hidden_states", cross_input},
                                             {"encoder_hidden_states", args.tensor("encoder_hidden_states")}})
                                      .at(0);

  const at::Tensor ffn_input = modulated_layer_norm(hidden_states, c_scale_msa, c_shift_msa, eps_, Rounding::once);
  const at::Tensor ffn_output = (*ffn_)({{"hidden_states", ffn_input}}).at(0);
  return {gated_residual(hidden_states, c_gate_msa, ffn_output, Rounding::once)};
}

// The forward's fused kernel rounds to the block's dtype; the indicator stays in fp32 with TeaCache's own
// eps, so its values do not depend on the kernel or the dtype.
at::Tensor WanTransformerBlock::teacache_modulated_input(const Args& args) const {
  const at::Tensor& hidden_states = args.tensor("hidden_states");
  const at::Tensor* temb = args.get_if<at::Tensor>("temb");
  if (temb == nullptr) return hidden_states;
  // temb: [B, 6, dim], or [B, S, 6, dim] per token.
  const bool per_token = temb->dim() == 4;
  const at::Tensor modulation =
      (per_token ? scale_shift_table_.unsqueeze(0) : scale_shift_table_) + temb->to(at::kFloat);
  at::Tensor shift = modulation.select(-2, 0), scale = modulation.select(-2, 1);
  if (!per_token) {
    shift = shift.unsqueeze(1);
    scale = scale.unsqueeze(1);
  }
  const at::Tensor normalized = at::layer_norm(hidden_states.to(at::kFloat), {hidden_states.size(-1)}, {}, {}, 1e-6);
  return normalized * (1 + scale) + shift;
}

}  // namespace tessera
