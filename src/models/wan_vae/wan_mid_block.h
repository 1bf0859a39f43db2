#pragma once
// diffusers' WanMidBlock: "resnets.0", then "attentions.0" and "resnets.1".
#include <memory>

#include "src/models/wan_vae/vae_layer.h"
#include "src/models/wan_vae/wan_attention_block.h"
#include "src/models/wan_vae/wan_residual_block.h"

namespace tessera::wan_vae {

class WanMidBlock : public VaeLayer {
 public:
  explicit WanMidBlock(int64_t dim);
  at::Tensor forward(const at::Tensor& x, FeatureCache& cache, const RowBands& rows) override;

 private:
  std::shared_ptr<WanResidualBlock> first_, second_;
  std::shared_ptr<WanAttentionBlock> attention_;
};

}  // namespace tessera::wan_vae
