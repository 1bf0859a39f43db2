#pragma once
// diffusers' WanUpBlock (Wan 2.1): num_res_blocks + 1 residual blocks ("resnets"), then, except on the last
// level, one upsample ("upsamplers.0") that halves the channels.
#include <memory>
#include <optional>
#include <vector>

#include "src/models/wan_vae/vae_layer.h"
#include "src/models/wan_vae/wan_resample.h"
#include "src/models/wan_vae/wan_residual_block.h"

namespace tessera::wan_vae {

class WanUpBlock : public VaeLayer {
 public:
  WanUpBlock(int64_t in_dim, int64_t out_dim, int64_t num_res_blocks, std::optional<ResampleMode> upsample);
  at::Tensor forward(const at::Tensor& x, FeatureCache& cache, const RowBands& rows) override;

 private:
  std::vector<std::shared_ptr<WanResidualBlock>> resnets_;
  std::shared_ptr<WanResample> upsampler_;
};

}  // namespace tessera::wan_vae
