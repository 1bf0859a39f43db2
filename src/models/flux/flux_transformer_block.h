#pragma once
#include "hooks/module.h"
#include "src/models/flux/flux_ada_norms.h"
#include "src/models/flux/flux_attention.h"
#include "src/models/layers.h"

namespace tessera {

// diffusers' FluxTransformerBlock ("transformer_blocks.N"), double-stream: image and text tokens keep their own
// modulation (norm1 / norm1_context), feed-forward (ff / ff_context) and residual streams, and meet only in the
// joint attention.
// Arguments: hidden_states [B, S, dim] (image), encoder_hidden_states [B, L, dim] (text), temb [B, dim],
// freqs_cos, freqs_sin [L + S, head_dim]. Outputs (diffusers' order): 0 encoder_hidden_states, 1 hidden_states.
class FluxTransformerBlock : public Module {
 public:
  FluxTransformerBlock(int64_t dim, int64_t heads, int64_t head_dim);

  // The arguments under which the block takes norm1's vectors and its image attention input already computed.
  static constexpr const char* kImageModulation = "norm1_modulation";
  static constexpr const char* kAttentionInput = "attention_input";
  // norm1's modulated image input for a call with `args`, computed as the forward computes it and left in `args`
  // with norm1's vectors, so that the forward of this call does not compute them again: TeaCache4FLUX's
  // indicator. hidden_states itself when the call has no temb.
  at::Tensor precompute_attention_input(Args& args) const;

 protected:
  Outputs forward_impl(Args& args) override;

 private:
  std::shared_ptr<AdaLayerNormZero> norm1_, norm1_context_;
  std::shared_ptr<FluxAttention> attn_;
  std::shared_ptr<FeedForward> ff_, ff_context_;
};

}  // namespace tessera
