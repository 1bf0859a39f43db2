#include "src/models/wan_vae/wan_residual_block.h"

#include <ATen/ATen.h>

namespace tessera::wan_vae {

WanResidualBlock::WanResidualBlock(int64_t in_dim, int64_t out_dim) {
  const CausalConv3d::Triple cube{3, 3, 3}, unit{1, 1, 1};
  norm1_ = register_module("norm1", std::make_shared<ChannelRmsNorm>(in_dim, /*images=*/false));
  conv1_ = register_module("conv1", std::make_shared<CausalConv3d>(in_dim, out_dim, cube, unit, unit));
  norm2_ = register_module("norm2", std::make_shared<ChannelRmsNorm>(out_dim, /*images=*/false));
  conv2_ = register_module("conv2", std::make_shared<CausalConv3d>(out_dim, out_dim, cube, unit, unit));
  if (in_dim != out_dim) {
    conv_shortcut_ = register_module("conv_shortcut", std::make_shared<CausalConv3d>(in_dim, out_dim, unit));
  }
}

at::Tensor WanResidualBlock::forward(const at::Tensor& x, FeatureCache& cache, const RowBands& rows) {
  const at::Tensor shortcut = conv_shortcut_ ? conv_shortcut_->forward(x, at::Tensor(), rows) : x;
  at::Tensor h = conv1_->forward(at::silu(norm1_->forward(x)), cache.next_slot(), rows);
  h = conv2_->forward(at::silu(norm2_->forward(h)), cache.next_slot(), rows);
  return h + shortcut;
}

}  // namespace tessera::wan_vae
