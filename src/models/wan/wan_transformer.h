#pragma once
// WanTransformer3DModel: the Wan2.1 diffusion transformer, module for module and parameter for parameter
// as in diffusers, so a diffusers `transformer/` folder loads unchanged.

#include <memory>
#include <vector>

#include "hooks/block_stack.h"
#include "hooks/cache_inputs.h"
#include "hooks/text_key_values.h"
#include "src/models/layers.h"
#include "src/models/model.h"
#include "src/models/wan/wan_condition_embedder.h"
#include "src/models/wan/wan_config.h"
#include "src/models/wan/wan_rotary.h"
#include "src/models/wan/wan_transformer_block.h"

namespace tessera {

// Arguments (diffusers names): hidden_states [B, C, F, H, W], timestep [B] (or [B, tokens] per token),
// encoder_hidden_states [B, L, text_dim]. Output 0: sample [B, out_channels, F, H, W].
class WanTransformer3DModel : public Model,
                              public DeclaresBlockStack,
                              public DeclaresCacheInputs,
                              public DeclaresTextKeyValues {
 public:
  static constexpr const char* kClassName = "WanTransformer3DModel";

  explicit WanTransformer3DModel(WanConfig config = {});

  std::string class_name() const override { return kClassName; }
  ModelCapabilities capabilities() const override;
  ContextParallelPlan context_parallel_plan() const override;
  std::vector<std::pair<std::string, std::string>> config_entries() const override { return config_.entries(); }
  const WanConfig& config() const { return config_; }

  // What the step caches read (wan_cache_inputs.cpp): the blocks "blocks.N", each returning hidden_states; the
  // first block's modulated input; and the reference TeaCache4Wan2.1 fit.
  std::vector<BlockGroup> block_stack() const override;
  at::Tensor modulated_input(Module& first_block, Args& args) const override;
  std::vector<TeaCacheFit> teacache_fits() const override;
  std::vector<std::pair<std::string, std::vector<double>>> magcache_ratios() const override;
  std::vector<at::Tensor> raw_vision(const Args& model_args) const override;
  // The blocks' text is the text embedder's projection of encoder_hidden_states (no timestep in it), so each
  // attn2's keys and values are the same at every step: TextKVCache reuses them per prompt tensor.
  std::string text_key_value_input() const override { return "encoder_hidden_states"; }

  // Casts to `dtype`, keeping in fp32 what diffusers keeps there (time embedder, norms, modulation tables)
  // for accuracy in bf16/fp16.
  c10::ScalarType parameter_dtype(const std::string& name, c10::ScalarType dtype) const override;

 protected:
  Outputs forward_impl(Args& args) override;

 private:
  WanConfig config_;
  std::shared_ptr<WanRotaryPosEmbed> rope_;
  std::shared_ptr<PatchEmbedding3d> patch_embedding_;
  std::shared_ptr<WanConditionEmbedder> condition_embedder_;
  std::vector<std::shared_ptr<WanTransformerBlock>> blocks_;
  std::shared_ptr<Fp32LayerNorm> norm_out_;
  std::shared_ptr<Linear> proj_out_;
  at::Tensor scale_shift_table_;  // [1, 2, dim]
};

}  // namespace tessera
