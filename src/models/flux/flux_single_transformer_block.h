#pragma once
#include "hooks/module.h"
#include "src/models/flux/flux_ada_norms.h"
#include "src/models/flux/flux_attention.h"
#include "src/models/layers.h"

namespace tessera {

// diffusers' FluxSingleTransformerBlock ("single_transformer_blocks.N"), single-stream: text and image tokens
// as one sequence [text, image], one modulation (norm), and the attention and an MLP (proj_mlp, tanh GELU) side
// by side, fused back by proj_out and gated into the residual.
// Arguments and outputs as FluxTransformerBlock's: hidden_states, encoder_hidden_states, temb, freqs_cos,
// freqs_sin -> 0 encoder_hidden_states, 1 hidden_states.
class FluxSingleTransformerBlock : public Module {
 public:
  FluxSingleTransformerBlock(int64_t dim, int64_t heads, int64_t head_dim);

 protected:
  Outputs forward_impl(Args& args) override;

 private:
  std::shared_ptr<AdaLayerNormZeroSingle> norm_;
  std::shared_ptr<Linear> proj_mlp_, proj_out_;
  std::shared_ptr<FluxAttention> attn_;
};

}  // namespace tessera
