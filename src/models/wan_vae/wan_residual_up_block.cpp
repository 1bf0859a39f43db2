#include "src/models/wan_vae/wan_residual_up_block.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/modulelist.h>

#include "src/models/wan_vae/resample_shortcuts.h"

namespace tessera::wan_vae {

WanResidualUpBlock::WanResidualUpBlock(int64_t in_dim, int64_t out_dim, int64_t num_res_blocks,
                                       bool temporal_upsample, bool upsample)
    : out_dim_(out_dim), factor_t_(upsample && temporal_upsample ? 2 : 1) {
  auto resnets = register_module("resnets", torch::nn::ModuleList());
  for (int64_t i = 0; i <= num_res_blocks; ++i) {
    resnets_.push_back(std::make_shared<WanResidualBlock>(i == 0 ? in_dim : out_dim, out_dim));
    resnets->push_back(resnets_.back());
  }
  if (upsample) {
    upsampler_ = register_module("upsampler", std::make_shared<WanResample>(
        out_dim, temporal_upsample ? ResampleMode::upsample3d : ResampleMode::upsample2d, out_dim));
  }
}

at::Tensor WanResidualUpBlock::forward(const at::Tensor& x, FeatureCache& cache, const RowBands& rows) {
  at::Tensor h = x;
  for (const auto& resnet : resnets_) h = resnet->forward(h, cache, rows);
  if (!upsampler_) return h;
  h = upsampler_->forward(h, cache, rows);
  return h + duplicate_up(x, out_dim_, factor_t_, /*factor_s=*/2, cache.first_chunk());
}

}  // namespace tessera::wan_vae
