#include "src/models/wan_vae/wan_encoder3d.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/modulelist.h>

#include "src/models/wan_vae/wan_resample.h"
#include "src/models/wan_vae/wan_residual_block.h"
#include "src/models/wan_vae/wan_residual_down_block.h"

namespace tessera::wan_vae {

WanEncoder3d::WanEncoder3d(const WanVaeConfig& config) {
  const CausalConv3d::Triple cube{3, 3, 3}, unit{1, 1, 1};
  const size_t levels = config.dim_mult.size();
  std::vector<int64_t> dims = {config.base_dim};
  for (int64_t mult : config.dim_mult) dims.push_back(config.base_dim * mult);

  conv_in_ = register_module("conv_in", std::make_shared<CausalConv3d>(config.in_channels, dims[0], cube, unit, unit));
  auto down_blocks = register_module("down_blocks", torch::nn::ModuleList());
  for (size_t i = 0; i < levels; ++i) {
    if (config.is_residual) {
      const bool last = i == levels - 1;
      down_blocks_.push_back(std::make_shared<WanResidualDownBlock>(
          dims[i], dims[i + 1], config.num_res_blocks, !last && config.temperal_downsample[i], !last));
      continue;
    }
    int64_t in_dim = dims[i];
    for (int64_t j = 0; j < config.num_res_blocks; ++j) {
      down_blocks_.push_back(std::make_shared<WanResidualBlock>(in_dim, dims[i + 1]));
      in_dim = dims[i + 1];
    }
    if (i != levels - 1) {
      down_blocks_.push_back(std::make_shared<WanResample>(
          dims[i + 1], config.temperal_downsample[i] ? ResampleMode::downsample3d : ResampleMode::downsample2d));
    }
  }
  for (const auto& layer : down_blocks_) down_blocks->push_back(layer);
  mid_block_ = register_module("mid_block", std::make_shared<WanMidBlock>(dims.back()));
  norm_out_ = register_module("norm_out", std::make_shared<ChannelRmsNorm>(dims.back(), /*images=*/false));
  conv_out_ = register_module("conv_out",
                              std::make_shared<CausalConv3d>(dims.back(), 2 * config.z_dim, cube, unit, unit));
}

at::Tensor WanEncoder3d::forward(const at::Tensor& x, FeatureCache& cache, const RowBands& rows) {
  at::Tensor h = conv_in_->forward(x, cache.next_slot(), rows);
  for (const auto& layer : down_blocks_) h = layer->forward(h, cache, rows);
  h = mid_block_->forward(h, cache, rows);
  return conv_out_->forward(at::silu(norm_out_->forward(h)), cache.next_slot(), rows);
}

}  // namespace tessera::wan_vae
