#pragma once
// diffusers' WanResidualDownBlock (Wan2.2's encoder, one per level): num_res_blocks residual blocks ("resnets"),
// then, except on the last level, a downsample ("downsampler"), plus the block's input averaged down to the
// output's size (resample_shortcuts.h). The encoder runs unsplit.
#include <memory>
#include <vector>

#include "src/models/wan_vae/vae_layer.h"
#include "src/models/wan_vae/wan_resample.h"
#include "src/models/wan_vae/wan_residual_block.h"

namespace tessera::wan_vae {

class WanResidualDownBlock : public VaeLayer {
 public:
  WanResidualDownBlock(int64_t in_dim, int64_t out_dim, int64_t num_res_blocks, bool temporal_downsample,
                       bool downsample);
  at::Tensor forward(const at::Tensor& x, FeatureCache& cache, const RowBands& rows) override;

 private:
  int64_t out_dim_, factor_t_, factor_s_;
  std::vector<std::shared_ptr<WanResidualBlock>> resnets_;
  std::shared_ptr<WanResample> downsampler_;
};

}  // namespace tessera::wan_vae
