#include "src/models/wan/wan_transformer_block.h"

#include <ATen/ATen.h>

#include <cmath>
#include <utility>

#include "kernels/gated_residual.h"
#include "kernels/modulated_layer_norm.h"
#include "src/models/parameters.h"

namespace tessera {

WanTransformerBlock::WanTransformerBlock(int64_t dim, int64_t ffn_dim, int64_t num_heads, bool cross_attn_norm,
                                         double eps, int64_t added_kv_proj_dim)
    : cross_attn_norm_(cross_attn_norm), eps_(eps) {
  norm1_ = register_module("norm1", std::make_shared<Fp32LayerNorm>(dim, eps, false));
  attn1_ = register_module("attn1", std::make_shared<WanAttention>(dim, num_heads, eps, false));
  attn2_ = register_module("attn2", std::make_shared<WanAttention>(dim, num_heads, eps, true, added_kv_proj_dim));
  if (cross_attn_norm_) norm2_ = register_module("norm2", std::make_shared<Fp32LayerNorm>(dim, eps, true));
  ffn_ = register_module("ffn", std::make_shared<FeedForward>(dim, ffn_dim));
  norm3_ = register_module("norm3", std::make_shared<Fp32LayerNorm>(dim, eps, false));
  scale_shift_table_ = register_parameter("scale_shift_table", normal_parameter({1, 6, dim}, 1.0 / std::sqrt(dim)));
}

std::vector<at::Tensor> WanTransformerBlock::modulation_vectors(const at::Tensor& temb) const {
  const bool per_token = temb.dim() == 4;
  const at::Tensor table = per_token ? scale_shift_table_.unsqueeze(0) : scale_shift_table_;
  auto modulation = (table + temb.to(at::kFloat)).chunk(6, per_token ? 2 : 1);
  if (per_token) {
    for (auto& m : modulation) m = m.squeeze(2);
  }
  return modulation;
}

Outputs WanTransformerBlock::forward_impl(Args& args) {
  at::Tensor hidden_states = args.tensor("hidden_states");
  const auto dtype = hidden_states.scalar_type();
  const std::vector<at::Tensor> modulation = modulation_vectors(args.tensor("temb"));
  const at::Tensor &shift_msa = modulation[0], &scale_msa = modulation[1], &gate_msa = modulation[2];
  const at::Tensor &c_shift_msa = modulation[3], &c_scale_msa = modulation[4], &c_gate_msa = modulation[5];

  // diffusers computes the modulation and the gated residuals in fp32 and casts once: Rounding::once.
  const at::Tensor* given = args.get_if<at::Tensor>(kAttentionInput);
  const at::Tensor attn_input =
      given != nullptr ? *given : modulated_layer_norm(hidden_states, scale_msa, shift_msa, eps_, Rounding::once);
  const at::Tensor self_attended = (*attn1_)({{"hidden_states", attn_input},
                                              {"freqs_cos", args.tensor("freqs_cos")},
                                              {"freqs_sin", args.tensor("freqs_sin")}})
                                       .at(0);
  hidden_states = gated_residual(hidden_states, gate_msa, self_attended, Rounding::once);

  const at::Tensor cross_input =
      cross_attn_norm_ ? norm2_->forward(hidden_states.to(at::kFloat)).to(dtype) : hidden_states;
  Args cross_args{{"hidden_states", cross_input}, {"encoder_hidden_states", args.tensor("encoder_hidden_states")}};
  if (const at::Tensor* image = args.get_if<at::Tensor>("encoder_hidden_states_image")) {
    cross_args.set("encoder_hidden_states_image", *image);
  }
  hidden_states = hidden_states + (*attn2_)(std::move(cross_args)).at(0);

  const at::Tensor ffn_input = modulated_layer_norm(hidden_states, c_scale_msa, c_shift_msa, eps_, Rounding::once);
  const at::Tensor ffn_output = (*ffn_)({{"hidden_states", ffn_input}}).at(0);
  return {gated_residual(hidden_states, c_gate_msa, ffn_output, Rounding::once)};
}

at::Tensor WanTransformerBlock::precompute_attention_input(Args& args) const {
  const at::Tensor& hidden_states = args.tensor("hidden_states");
  const at::Tensor* temb = args.get_if<at::Tensor>("temb");
  if (temb == nullptr) return hidden_states;
  const std::vector<at::Tensor> modulation = modulation_vectors(*temb);
  at::Tensor attention_input = modulated_layer_norm(hidden_states, modulation[1], modulation[0], eps_, Rounding::once);
  args.set(kAttentionInput, attention_input);
  return attention_input;
}

}  // namespace tessera
