#pragma once
#include "hooks/module.h"
#include "src/models/layers.h"

namespace tessera {

// WanTimeTextImageEmbedding ("condition_embedder"), text-to-video part: sinusoidal timestep embedding ->
// time_embedder (linear_1, SiLU, linear_2) -> temb; time_proj(SiLU(temb)) -> the six modulation vectors;
// text_embedder (linear_1, tanh GELU, linear_2) projects the text embeddings.
// Arguments: timestep [N] (N = batch, or batch * tokens for per-token timesteps), encoder_hidden_states.
// Outputs: 0 temb [N, dim], 1 timestep_proj [N, 6 * dim], 2 encoder_hidden_states [B, L, dim].
class WanConditionEmbedder : public Module {
 public:
  WanConditionEmbedder(int64_t dim, int64_t time_freq_dim, int64_t text_embed_dim);

 protected:
  Outputs forward_impl(Args& args) override;

 private:
  int64_t time_freq_dim_;
  std::shared_ptr<Linear> time_linear_1_, time_linear_2_, time_proj_;
  std::shared_ptr<Linear> text_linear_1_, text_linear_2_;
};

}  // namespace tessera
