#pragma once
#include "hooks/module.h"
#include "src/models/layers.h"

namespace tessera {

// diffusers' CombinedTimestepTextProjEmbeddings, or CombinedTimestepGuidanceTextProjEmbeddings when built with
// guidance ("time_text_embed"): sinusoidal embeddings (256 channels) of the timestep (and guidance) through
// timestep_embedder (and guidance_embedder) (linear_1, SiLU, linear_2), plus text_embedder (linear_1, SiLU,
// linear_2) of the pooled text projection.
// Arguments: timestep [B] and guidance [B], already scaled by 1000; pooled_projections [B, pooled_dim].
// Output 0: temb [B, dim], in the pooled projections' dtype.
class FluxTimeTextEmbedding : public Module {
 public:
  FluxTimeTextEmbedding(int64_t dim, int64_t pooled_projection_dim, bool guidance_embeds);
  bool embeds_guidance() const { return guidance_linear_1_ != nullptr; }

 protected:
  Outputs forward_impl(Args& args) override;

 private:
  std::shared_ptr<Linear> timestep_linear_1_, timestep_linear_2_;
  std::shared_ptr<Linear> guidance_linear_1_, guidance_linear_2_;  // null without guidance embedding
  std::shared_ptr<Linear> text_linear_1_, text_linear_2_;
};

}  // namespace tessera
