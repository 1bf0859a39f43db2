#include "src/models/flux/flux_transformer_block.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "kernels/gated_residual.h"
#include "src/models/flux/fp16_clip.h"

namespace tessera {

FluxTransformerBlock::FluxTransformerBlock(int64_t dim, int64_t heads, int64_t head_dim) {
  norm1_ = register_module("norm1", std::make_shared<AdaLayerNormZero>(dim));
  norm1_context_ = register_module("norm1_context", std::make_shared<AdaLayerNormZero>(dim));
  attn_ = register_module("attn", std::make_shared<FluxAttention>(
                                      FluxAttention::Shape{.dim = dim, .heads = heads, .head_dim = head_dim},
                                      FluxAttention::Form::double_stream, 1e-6));
  // norm2 and norm2_context are LayerNorms without parameters: nothing to register.
  ff_ = register_module("ff", std::make_shared<FeedForward>(dim, 4 * dim));
  ff_context_ = register_module("ff_context", std::make_shared<FeedForward>(dim, 4 * dim));
}

Outputs FluxTransformerBlock::forward_impl(Args& args) {
  at::Tensor hidden_states = args.tensor("hidden_states");
  at::Tensor text = args.tensor("encoder_hidden_states");
  const at::Tensor& temb = args.tensor("temb");
  const at::Tensor* given_modulation = args.get_if<at::Tensor>(kImageModulation);
  const auto image = norm1_->apply(hidden_states, given_modulation != nullptr ? *given_modulation : norm1_->modulation(temb),
                                   args.get_if<at::Tensor>(kAttentionInput));
  const auto context = norm1_context_->forward(text, temb);
  const Outputs attended = (*attn_)({{"hidden_states", image.normed},
                                     {"encoder_hidden_states", context.normed},
                                     {"freqs_cos", args.tensor("freqs_cos")},
                                     {"freqs_sin", args.tensor("freqs_sin")}});

  // residual + gate * y in the dtype, rounded per op as diffusers' ops are.
  hidden_states = gated_residual(hidden_states, image.gate_msa.unsqueeze(1), attended.at(0), Rounding::per_op);
  const at::Tensor ff_input = flux_modulated_norm(hidden_states, image.scale_mlp, image.shift_mlp);
  hidden_states = gated_residual(hidden_states, image.gate_mlp.unsqueeze(1), (*ff_)({{"hidden_states", ff_input}}).at(0),
                                 Rounding::per_op);

  text = gated_residual(text, context.gate_msa.unsqueeze(1), attended.at(1), Rounding::per_op);
  const at::Tensor ff_context_input = flux_modulated_norm(text, context.scale_mlp, context.shift_mlp);
  text = gated_residual(text, context.gate_mlp.unsqueeze(1),
                        (*ff_context_)({{"hidden_states", ff_context_input}}).at(0), Rounding::per_op);
  return {clip_to_fp16_range(text), hidden_states};
}

at::Tensor FluxTransformerBlock::precompute_attention_input(Args& args) const {
  const at::Tensor& hidden_states = args.tensor("hidden_states");
  const at::Tensor* temb = args.get_if<at::Tensor>("temb");
  if (temb == nullptr) return hidden_states;
  const at::Tensor modulation = norm1_->modulation(*temb);
  at::Tensor attention_input = norm1_->apply(hidden_states, modulation).normed;
  args.set(kImageModulation, modulation);
  args.set(kAttentionInput, attention_input);
  return attention_input;
}

}  // namespace tessera
