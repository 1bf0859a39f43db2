#pragma once
// torch.nn.Conv2d ("weight" [out, in, k, k], "bias") applied frame by frame; its row padding is the
// neighbouring bands' rows in a split decode (row_bands.h), zeros otherwise.
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>

#include "src/models/vae/row_bands.h"

namespace tessera {

class Conv2d : public torch::nn::Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride = 1, int64_t padding = 0);
  // x [N, C, h, W] -> [N, out, h', W'].
  at::Tensor forward(const at::Tensor& x, const RowBands& rows) const;

 private:
  int64_t stride_, padding_;
  at::Tensor weight_, bias_;
};

}  // namespace tessera
