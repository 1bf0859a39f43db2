#pragma once
#include "hooks/module.h"
#include "src/models/layers.h"
#include "src/models/wan/wan_attention.h"

namespace tessera {

// WanTransformerBlock ("blocks.N"): adaLN-modulated self-attention, cross-attention to the text, and
// a modulated feed-forward, each added to the residual stream.
// Arguments: hidden_states [B, S, dim], encoder_hidden_states [B, L, dim], temb (the six modulation vectors,
// [B, 6, dim], or [B, S, 6, dim] for per-token timesteps), freqs_cos, freqs_sin. Output 0: hidden_states.
class WanTransformerBlock : public Module {
 public:
  WanTransformerBlock(int64_t dim, int64_t ffn_dim, int64_t num_heads, bool cross_attn_norm, double eps);

  // TeaCache's modulated_input indicator for a call with `args`: norm1(x) * (1 + scale_msa) + shift_msa in
  // fp32; hidden_states itself when the call has no temb.
  at::Tensor teacache_modulated_input(const Args& args) const;

 protected:
  Outputs forward_impl(Args& args) override;

 private:
  // norm1 and norm3 have no parameters; they stay registered for the module tree while the fused kernel
  // (kernels/modulated_layer_norm) computes them with their modulation.
  std::shared_ptr<Fp32LayerNorm> norm1_, norm2_, norm3_;
  std::shared_ptr<WanAttention> attn1_, attn2_;
  std::shared_ptr<FeedForward> ffn_;
  at::Tensor scale_shift_table_;  // [1, 6, dim]
  bool cross_attn_norm_;
  double eps_;
};

}  // namespace tessera
