#pragma once
// A layer of the VAE's encoder or decoder that runs chunk by chunk: it takes its cache slots from `cache` in
// call order and holds the rows `rows` says (row_bands.h).
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include "src/models/wan_vae/feature_cache.h"
#include "src/models/vae/row_bands.h"

namespace tessera::wan_vae {

class VaeLayer : public torch::nn::Module {
 public:
  virtual at::Tensor forward(const at::Tensor& x, FeatureCache& cache, const RowBands& rows) = 0;
};

}  // namespace tessera::wan_vae
