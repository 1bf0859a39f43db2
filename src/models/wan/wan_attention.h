#pragma once

#include "hooks/module.h"
#include "src/models/layers.h"

namespace tessera {

// WanAttention (attn1: self-attention with rotary embedding; attn2: cross-attention to the text and, in an
// image-conditioned model, to the image: added_kv_proj_dim > 0 adds add_k_proj, add_v_proj and norm_added_k,
// and the image's attention output is added to the text's before to_out, as diffusers' I2V processor does).
// Arguments: hidden_states [B, S, dim]; encoder_hidden_states [B, L, dim] for cross-attention, and
// encoder_hidden_states_image [B, L', dim] for the image; freqs_cos and freqs_sin [1, S, 1, head_dim] for
// self-attention. Output 0: [B, S, dim]. q and k get RMS norms across heads.
class WanAttention : public Module {
 public:
  WanAttention(int64_t dim, int64_t heads, double eps, bool is_cross_attention, int64_t added_kv_proj_dim = 0);
  bool is_cross_attention() const { return is_cross_attention_; }
  ModuleRole role() const override {
    return is_cross_attention_ ? ModuleRole::cross_attention : ModuleRole::self_attention;
  }

 protected:
  Outputs forward_impl(Args& args) override;

 private:
  int64_t heads_;
  bool is_cross_attention_;
  std::shared_ptr<Linear> to_q_, to_k_, to_v_, to_out_;
  std::shared_ptr<RmsNorm> norm_q_, norm_k_;
  std::shared_ptr<Linear> add_k_proj_, add_v_proj_;  // null without image conditioning
  std::shared_ptr<RmsNorm> norm_added_k_;
};

}  // namespace tessera
