#pragma once

#include <string>

#include "hooks/module.h"
#include "hooks/text_key_values.h"
#include "src/models/layers.h"

namespace tessera {

// WanAttention (attn1: self-attention with rotary embedding; attn2: cross-attention to the text and, in an
// image-conditioned model, to the image: added_kv_proj_dim > 0 adds add_k_proj, add_v_proj and norm_added_k,
// and the image's attention output is added to the text's before to_out, as diffusers' I2V processor does).
// Arguments: hidden_states [B, S, dim]; encoder_hidden_states [B, L, dim] for cross-attention, and
// encoder_hidden_states_image [B, L', dim] for the image; freqs_cos and freqs_sin [1, S, 1, head_dim] for
// self-attention. Output 0: [B, S, dim]. q and k get RMS norms across heads. A cross-attention also takes its text
// keys and values already projected (kTextKey, kTextValue, [B, L, heads, head_dim]: TextKVCache's).
class WanAttention : public Module, public ProjectsTextKeyValues {
 public:
  static constexpr const char* kTextKey = "text_key";
  static constexpr const char* kTextValue = "text_value";

  WanAttention(int64_t dim, int64_t heads, double eps, bool is_cross_attention, int64_t added_kv_proj_dim = 0);
  bool is_cross_attention() const { return is_cross_attention_; }
  ModuleRole role() const override {
    return is_cross_attention_ ? ModuleRole::cross_attention : ModuleRole::self_attention;
  }
  // A cross-attention's keys and values come from encoder_hidden_states alone; a self-attention's from its input.
  std::string text_key_value_source() const override { return is_cross_attention_ ? "encoder_hidden_states" : ""; }
  Args text_key_values(const Args& args) const override;

 protected:
  Outputs forward_impl(Args& args) override;

 private:
  at::Tensor split_heads(const at::Tensor& t) const { return t.unflatten(2, {heads_, -1}); }
  at::Tensor project_key(const at::Tensor& context) const;
  at::Tensor project_value(const at::Tensor& context) const;

  int64_t heads_;
  bool is_cross_attention_;
  std::shared_ptr<Linear> to_q_, to_k_, to_v_, to_out_;
  std::shared_ptr<RmsNorm> norm_q_, norm_k_;
  std::shared_ptr<Linear> add_k_proj_, add_v_proj_;  // null without image conditioning
  std::shared_ptr<RmsNorm> norm_added_k_;
};

}  // namespace tessera
