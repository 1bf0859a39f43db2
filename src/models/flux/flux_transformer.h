#pragma once
// FluxTransformer2DModel: the FLUX.1 diffusion transformer, module for module and parameter for parameter as in
// diffusers, so a diffusers `transformer/` folder (FLUX.1-dev, FLUX.1-schnell) loads unchanged.

#include <memory>
#include <vector>

#include "hooks/block_stack.h"
#include "hooks/cache_inputs.h"
#include "src/models/flux/flux_ada_norms.h"
#include "src/models/flux/flux_config.h"
#include "src/models/flux/flux_pos_embed.h"
#include "src/models/flux/flux_single_transformer_block.h"
#include "src/models/flux/flux_time_text_embedding.h"
#include "src/models/flux/flux_transformer_block.h"
#include "src/models/layers.h"
#include "src/models/model.h"

namespace tessera {

// Arguments (diffusers names): hidden_states [B, N_img, in_channels] (packed latents), encoder_hidden_states
// [B, N_txt, joint_attention_dim], pooled_projections [B, pooled_projection_dim], timestep [B] in [0, 1] (scaled
// by 1000 inside, as diffusers does), img_ids [N_img, axes], txt_ids [N_txt, axes], guidance [B] (only with
// guidance_embeds). Output 0: sample [B, N_img, patch_size^2 * out_channels].
class FluxTransformer2DModel : public Model, public DeclaresBlockStack, public DeclaresCacheInputs {
 public:
  static constexpr const char* kClassName = "FluxTransformer2DModel";

  explicit FluxTransformer2DModel(FluxConfig config = {});

  std::string class_name() const override { return kClassName; }
  ModelCapabilities capabilities() const override;
  ContextParallelPlan context_parallel_plan() const override;
  // The double-stream blocks, then the single-stream ones; both return (encoder_hidden_states, hidden_states).
  std::vector<BlockGroup> block_stack() const override;
  // TeaCache's indicator at the first double-stream block and TeaCache4FLUX's fit (flux_cache_inputs.cpp).
  at::Tensor modulated_input(Module& first_block, Args& args) const override;
  std::vector<TeaCacheFit> teacache_fits() const override;
  // MagCache's published FLUX ratios, and SeaCache's raw latents unpacked from the tokens.
  std::vector<std::pair<std::string, std::vector<double>>> magcache_ratios() const override;
  std::vector<at::Tensor> raw_vision(const Args& model_args) const override;
  std::vector<std::pair<std::string, std::string>> config_entries() const override { return config_.entries(); }
  const FluxConfig& config() const { return config_; }

 protected:
  Outputs forward_impl(Args& args) override;

 private:
  FluxConfig config_;
  std::shared_ptr<FluxPosEmbed> pos_embed_;
  std::shared_ptr<FluxTimeTextEmbedding> time_text_embed_;
  std::shared_ptr<Linear> context_embedder_, x_embedder_;
  std::vector<std::shared_ptr<FluxTransformerBlock>> transformer_blocks_;
  std::vector<std::shared_ptr<FluxSingleTransformerBlock>> single_transformer_blocks_;
  std::shared_ptr<AdaLayerNormContinuous> norm_out_;
  std::shared_ptr<Linear> proj_out_;
};

}  // namespace tessera
