#pragma once
// diffusers' WanDecoder3d: conv_in, mid_block, up_blocks (deepest level first: Wan 2.1's WanUpBlock, or Wan2.2's
// WanResidualUpBlock with is_residual), norm_out, SiLU, conv_out. Runs one latent frame per chunk; the rows may
// be one band of a split decode (row_bands.h).
#include <memory>
#include <vector>

#include "src/models/wan_vae/causal_conv3d.h"
#include "src/models/wan_vae/channel_rms_norm.h"
#include "src/models/wan_vae/wan_mid_block.h"
#include "src/models/wan_vae/wan_vae_config.h"

namespace tessera::wan_vae {

class WanDecoder3d : public VaeLayer {
 public:
  explicit WanDecoder3d(const WanVaeConfig& config);
  // x [B, z_dim, t, h, W] -> [B, out_channels, t', h * scale, W * scale].
  at::Tensor forward(const at::Tensor& x, FeatureCache& cache, const RowBands& rows) override;

 private:
  std::shared_ptr<CausalConv3d> conv_in_, conv_out_;
  std::shared_ptr<WanMidBlock> mid_block_;
  std::vector<std::shared_ptr<VaeLayer>> up_blocks_;
  std::shared_ptr<ChannelRmsNorm> norm_out_;
};

}  // namespace tessera::wan_vae
