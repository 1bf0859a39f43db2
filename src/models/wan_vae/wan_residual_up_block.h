#pragma once
// diffusers' WanResidualUpBlock (Wan2.2's decoder, one per level): num_res_blocks + 1 residual blocks
// ("resnets"), then, except on the last level, an upsample ("upsampler") that keeps the channels, plus the
// block's input duplicated up to the output's size (resample_shortcuts.h). Each output row comes from one input
// row, so a band of a split decode upsamples on its own.
#include <memory>
#include <vector>

#include "src/models/wan_vae/vae_layer.h"
#include "src/models/wan_vae/wan_resample.h"
#include "src/models/wan_vae/wan_residual_block.h"

namespace tessera::wan_vae {

class WanResidualUpBlock : public VaeLayer {
 public:
  WanResidualUpBlock(int64_t in_dim, int64_t out_dim, int64_t num_res_blocks, bool temporal_upsample, bool upsample);
  at::Tensor forward(const at::Tensor& x, FeatureCache& cache, const RowBands& rows) override;

 private:
  int64_t out_dim_, factor_t_;
  std::vector<std::shared_ptr<WanResidualBlock>> resnets_;
  std::shared_ptr<WanResample> upsampler_;
};

}  // namespace tessera::wan_vae
