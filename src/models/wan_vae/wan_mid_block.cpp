#include "src/models/wan_vae/wan_mid_block.h"

#include <torch/nn/modules/container/modulelist.h>

namespace tessera::wan_vae {

WanMidBlock::WanMidBlock(int64_t dim) {
  auto resnets = register_module("resnets", torch::nn::ModuleList());
  first_ = std::make_shared<WanResidualBlock>(dim, dim);
  second_ = std::make_shared<WanResidualBlock>(dim, dim);
  resnets->push_back(first_);
  resnets->push_back(second_);
  attention_ = std::make_shared<WanAttentionBlock>(dim);
  register_module("attentions", torch::nn::ModuleList())->push_back(attention_);
}

at::Tensor WanMidBlock::forward(const at::Tensor& x, FeatureCache& cache, const RowBands& rows) {
  const at::Tensor h = first_->forward(x, cache, rows);
  return second_->forward(attention_->forward(h, rows), cache, rows);
}

}  // namespace tessera::wan_vae
