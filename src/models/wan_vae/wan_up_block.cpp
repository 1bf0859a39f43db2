#include "src/models/wan_vae/wan_up_block.h"

#include <torch/nn/modules/container/modulelist.h>

namespace tessera::wan_vae {

WanUpBlock::WanUpBlock(int64_t in_dim, int64_t out_dim, int64_t num_res_blocks, std::optional<ResampleMode> upsample) {
  auto resnets = register_module("resnets", torch::nn::ModuleList());
  for (int64_t i = 0; i <= num_res_blocks; ++i) {
    resnets_.push_back(std::make_shared<WanResidualBlock>(i == 0 ? in_dim : out_dim, out_dim));
    resnets->push_back(resnets_.back());
  }
  if (upsample) {
    upsampler_ = std::make_shared<WanResample>(out_dim, *upsample);
    register_module("upsamplers", torch::nn::ModuleList())->push_back(upsampler_);
  }
}

at::Tensor WanUpBlock::forward(const at::Tensor& x, FeatureCache& cache, const RowBands& rows) {
  at::Tensor h = x;
  for (const auto& resnet : resnets_) h = resnet->forward(h, cache, rows);
  return upsampler_ ? upsampler_->forward(h, cache, rows) : h;
}

}  // namespace tessera::wan_vae
