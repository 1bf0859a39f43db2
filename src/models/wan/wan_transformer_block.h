#pragma once
#include <vector>

#include "hooks/module.h"
#include "src/models/layers.h"
#include "src/models/wan/wan_attention.h"

namespace tessera {

// WanTransformerBlock ("blocks.N"): adaLN-modulated self-attention, cross-attention to the text, and
// a modulated feed-forward, each added to the residual stream.
// Arguments: hidden_states [B, S, dim], encoder_hidden_states [B, L, dim], temb (the six modulation vectors,
// [B, 6, dim], or [B, S, 6, dim] for per-token timesteps), freqs_cos, freqs_sin, and for an image-conditioned
// model encoder_hidden_states_image [B, L', dim] (the cross-attention's image keys). Output 0: hidden_states.
class WanTransformerBlock : public Module {
 public:
  WanTransformerBlock(int64_t dim, int64_t ffn_dim, int64_t num_heads, bool cross_attn_norm, double eps,
                      int64_t added_kv_proj_dim = 0);

  // The argument under which the block takes its attention input already computed.
  static constexpr const char* kAttentionInput = "attention_input";
  // The attention input of a call with `args`, norm1(x) * (1 + scale_msa) + shift_msa, computed as the forward
  // computes it and left in `args` (kAttentionInput), so that the forward of this call does not compute it again:
  // TeaCache's modulated-input indicator. hidden_states itself when the call has no temb.
  at::Tensor precompute_attention_input(Args& args) const;

 protected:
  Outputs forward_impl(Args& args) override;

 private:
  // The six [B, 1, dim] (or [B, S, dim] per-token) modulation vectors in fp32: shift, scale and gate of the
  // self-attention, then of the feed-forward.
  std::vector<at::Tensor> modulation_vectors(const at::Tensor& temb) const;

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
