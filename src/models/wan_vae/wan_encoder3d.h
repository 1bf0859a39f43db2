#pragma once
// diffusers' WanEncoder3d: conv_in, down_blocks, mid_block, norm_out, SiLU, conv_out to 2 * z_dim channels (the
// posterior's mean and log-variance). Wan 2.1's down_blocks are one flat list (per level num_res_blocks residual
// blocks, then a downsample except on the last level); Wan2.2's (is_residual) one residual down block per level.
// Runs on whole frames: encoding is not split.
#include <memory>
#include <vector>

#include "src/models/wan_vae/causal_conv3d.h"
#include "src/models/wan_vae/channel_rms_norm.h"
#include "src/models/wan_vae/wan_mid_block.h"
#include "src/models/wan_vae/wan_vae_config.h"

namespace tessera::wan_vae {

class WanEncoder3d : public VaeLayer {
 public:
  explicit WanEncoder3d(const WanVaeConfig& config);
  at::Tensor forward(const at::Tensor& x, FeatureCache& cache, const RowBands& rows) override;

 private:
  std::shared_ptr<CausalConv3d> conv_in_, conv_out_;
  std::vector<std::shared_ptr<VaeLayer>> down_blocks_;
  std::shared_ptr<WanMidBlock> mid_block_;
  std::shared_ptr<ChannelRmsNorm> norm_out_;
};

}  // namespace tessera::wan_vae
