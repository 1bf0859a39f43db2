#include "src/models/flux/flux_single_transformer_block.h"

#include <ATen/ATen.h>

#include "kernels/gated_residual.h"
#include "src/models/flux/fp16_clip.h"

namespace tessera {

FluxSingleTransformerBlock::FluxSingleTransformerBlock(int64_t dim, int64_t heads, int64_t head_dim) {
  const int64_t mlp_dim = 4 * dim;  // diffusers' mlp_ratio 4.0
  norm_ = register_module("norm", std::make_shared<AdaLayerNormZeroSingle>(dim));
  proj_mlp_ = register_module("proj_mlp", std::make_shared<Linear>(dim, mlp_dim));
  proj_out_ = register_module("proj_out", std::make_shared<Linear>(dim + mlp_dim, dim));
  attn_ = register_module("attn", std::make_shared<FluxAttention>(
                                      FluxAttention::Shape{.dim = dim, .heads = heads, .head_dim = head_dim},
                                      FluxAttention::Form::single_stream, 1e-6));
}

Outputs FluxSingleTransformerBlock::forward_impl(Args& args) {
  const at::Tensor& text = args.tensor("encoder_hidden_states");
  const int64_t text_tokens = text.size(1);
  const at::Tensor joint = at::cat({text, args.tensor("hidden_states")}, 1);
  const auto modulated = norm_->forward(joint, args.tensor("temb"));
  const at::Tensor mlp = gelu_of_fresh(proj_mlp_->forward(modulated.normed), "tanh");
  const at::Tensor attended = (*attn_)({{"hidden_states", modulated.normed},
                                        {"freqs_cos", args.tensor("freqs_cos")},
                                        {"freqs_sin", args.tensor("freqs_sin")}})
                                  .at(0);
  const at::Tensor fused = proj_out_->forward(at::cat({attended, mlp}, 2));
  const at::Tensor output =
      clip_to_fp16_range(gated_residual(joint, modulated.gate.unsqueeze(1), fused, Rounding::per_op));
  return {output.narrow(1, 0, text_tokens), output.narrow(1, text_tokens, output.size(1) - text_tokens)};
}

}  // namespace tessera
