#pragma once
// diffusers' WanResidualBlock: norm1, SiLU, conv1 (3x3x3 causal), norm2, SiLU, conv2, plus the input through
// "conv_shortcut" (a 1x1x1 conv, only when the channel count changes).
#include <memory>

#include "src/models/wan_vae/causal_conv3d.h"
#include "src/models/wan_vae/channel_rms_norm.h"
#include "src/models/wan_vae/vae_layer.h"

namespace tessera::wan_vae {

class WanResidualBlock : public VaeLayer {
 public:
  WanResidualBlock(int64_t in_dim, int64_t out_dim);
  at::Tensor forward(const at::Tensor& x, FeatureCache& cache, const RowBands& rows) override;

 private:
  std::shared_ptr<ChannelRmsNorm> norm1_, norm2_;
  std::shared_ptr<CausalConv3d> conv1_, conv2_, conv_shortcut_;
};

}  // namespace tessera::wan_vae
