#include "src/models/wan_vae/wan_decoder3d.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/modulelist.h>

#include "src/models/wan_vae/wan_residual_up_block.h"
#include "src/models/wan_vae/wan_up_block.h"

namespace tessera::wan_vae {

WanDecoder3d::WanDecoder3d(const WanVaeConfig& config) {
  const CausalConv3d::Triple cube{3, 3, 3}, unit{1, 1, 1};
  const int64_t levels = static_cast<int64_t>(config.dim_mult.size());
  // Channels from the deepest level out: base * [last mult, mults reversed].
  std::vector<int64_t> dims = {config.decoder_base_dim * config.dim_mult.back()};
  for (int64_t i = levels - 1; i >= 0; --i) dims.push_back(config.decoder_base_dim * config.dim_mult[i]);

  conv_in_ = register_module("conv_in", std::make_shared<CausalConv3d>(config.z_dim, dims[0], cube, unit, unit));
  mid_block_ = register_module("mid_block", std::make_shared<WanMidBlock>(dims[0]));
  auto up_blocks = register_module("up_blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < levels; ++i) {
    const bool upsample = i != levels - 1;
    // The decoder reverses the encoder's temporal downsamples.
    const bool temporal = upsample && config.temperal_downsample[levels - 2 - i];
    if (config.is_residual) {
      up_blocks_.push_back(
          std::make_shared<WanResidualUpBlock>(dims[i], dims[i + 1], config.num_res_blocks, temporal, upsample));
    } else {
      // Every Wan 2.1 upsample before this level halved its channels.
      const int64_t in_dim = i > 0 ? dims[i] / 2 : dims[i];
      std::optional<ResampleMode> mode;
      if (upsample) mode = temporal ? ResampleMode::upsample3d : ResampleMode::upsample2d;
      up_blocks_.push_back(std::make_shared<WanUpBlock>(in_dim, dims[i + 1], config.num_res_blocks, mode));
    }
    up_blocks->push_back(up_blocks_.back());
  }
  norm_out_ = register_module("norm_out", std::make_shared<ChannelRmsNorm>(dims.back(), /*images=*/false));
  conv_out_ = register_module("conv_out",
                              std::make_shared<CausalConv3d>(dims.back(), config.out_channels, cube, unit, unit));
}

at::Tensor WanDecoder3d::forward(const at::Tensor& x, FeatureCache& cache, const RowBands& rows) {
  at::Tensor h = conv_in_->forward(x, cache.next_slot(), rows);
  h = mid_block_->forward(h, cache, rows);
  for (const auto& block : up_blocks_) h = block->forward(h, cache, rows);
  return conv_out_->forward(at::silu(norm_out_->forward(h)), cache.next_slot(), rows);
}

}  // namespace tessera::wan_vae
