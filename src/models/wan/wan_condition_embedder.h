#pragma once
#include "hooks/module.h"
#include "hooks/text_key_values.h"
#include "src/models/layers.h"
#include "src/models/wan/wan_image_embedding.h"

namespace tessera {

// WanTimeTextImageEmbedding ("condition_embedder"): sinusoidal timestep embedding -> time_embedder (linear_1,
// SiLU, linear_2) -> temb; time_proj(SiLU(temb)) -> the six modulation vectors; text_embedder (linear_1, tanh GELU,
// linear_2) projects the text embeddings; an image-conditioned model's image_embedder (image_dim > 0) the image's.
// Arguments: timestep [N] (N = batch, or batch * tokens for per-token timesteps), encoder_hidden_states, and for
// an image-conditioned model encoder_hidden_states_image. Outputs: 0 temb [N, dim], 1 timestep_proj [N, 6 * dim],
// 2 encoder_hidden_states [B, L, dim], and 3 the image's [B, L', dim] when it was given.
//
// Its text embedding depends on encoder_hidden_states alone, so TextKVCache reuses it as it does the cross-attention
// keys and values (ProjectsTextKeyValues): a call given "text_embedding" takes it instead of projecting the text.
class WanConditionEmbedder : public Module, public ProjectsTextKeyValues {
 public:
  WanConditionEmbedder(int64_t dim, int64_t time_freq_dim, int64_t text_embed_dim, int64_t image_dim = 0,
                       int64_t pos_embed_seq_len = 0);

  std::string text_key_value_source() const override { return "encoder_hidden_states"; }
  Args text_key_values(const Args& args) const override;

 protected:
  Outputs forward_impl(Args& args) override;

 private:
  at::Tensor embed_text(const at::Tensor& encoder_hidden_states) const;

  int64_t time_freq_dim_;
  std::shared_ptr<Linear> time_linear_1_, time_linear_2_, time_proj_;
  std::shared_ptr<Linear> text_linear_1_, text_linear_2_;
  std::shared_ptr<WanImageEmbedding> image_embedder_;  // null for text-to-video
};

}  // namespace tessera
