#include "src/models/wan_vae/wan_residual_down_block.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/modulelist.h>

#include "src/models/wan_vae/resample_shortcuts.h"

namespace tessera::wan_vae {

WanResidualDownBlock::WanResidualDownBlock(int64_t in_dim, int64_t out_dim, int64_t num_res_blocks,
                                           bool temporal_downsample, bool downsample)
    : out_dim_(out_dim), factor_t_(downsample && temporal_downsample ? 2 : 1), factor_s_(downsample ? 2 : 1) {
  auto resnets = register_module("resnets", torch::nn::ModuleList());
  for (int64_t i = 0; i < num_res_blocks; ++i) {
    resnets_.push_back(std::make_shared<WanResidualBlock>(i == 0 ? in_dim : out_dim, out_dim));
    resnets->push_back(resnets_.back());
  }
  if (downsample) {
    downsampler_ = register_module("downsampler", std::make_shared<WanResample>(
        out_dim, temporal_downsample ? ResampleMode::downsample3d : ResampleMode::downsample2d));
  }
}

at::Tensor WanResidualDownBlock::forward(const at::Tensor& x, FeatureCache& cache, const RowBands& rows) {
  at::Tensor h = x;
  for (const auto& resnet : resnets_) h = resnet->forward(h, cache, rows);
  if (downsampler_) h = downsampler_->forward(h, cache, rows);
  return h + average_down(x, out_dim_, factor_t_, factor_s_);
}

}  // namespace tessera::wan_vae
