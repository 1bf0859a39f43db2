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
  const auto image = norm1_->forward(hidden_states, temb);
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

// The same modulation as norm1 (AdaLayerNormZero: its linear projects SiLU(temb) to six vectors, shift_msa and
// scale_msa first), written out with ATen's layer norm as TeaCache4FLUX does rather than through the forward's
// fused kernel, so the indicator does not depend on that kernel's rounding.
at::Tensor FluxTransformerBlock::teacache_modulated_input(const Args& args) const {
  const at::Tensor& hidden_states = args.tensor("hidden_states");
  const at::Tensor* temb = args.get_if<at::Tensor>("temb");
  if (temb == nullptr) return hidden_states;
  const auto parameters = norm1_->named_parameters(true);
  const at::Tensor* weight = parameters.find("linear.weight");
  const at::Tensor* bias = parameters.find("linear.bias");
  TESSERA_INTERNAL_ASSERT(weight != nullptr && bias != nullptr, "norm1 has no linear.weight and linear.bias");
  const auto modulation = at::linear(at::silu(*temb), *weight, *bias).chunk(6, 1);
  return at::layer_norm(hidden_states, {hidden_states.size(-1)}, std::nullopt, std::nullopt, 1e-6) *
             (1 + modulation[1].unsqueeze(1)) +
         modulation[0].unsqueeze(1);
}

}  // namespace tessera
