#pragma once
// torch.nn.GroupNorm with affine "weight" and "bias" [C] over images [N, C, h, W]. Its statistics are over the
// whole image: in a split decode (row_bands.h) each band sums its own rows and the sums are added across the
// group, so every band is normalised as the single-rank decode normalises it.
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>

#include "src/models/vae/row_bands.h"

namespace tessera {

class GroupNorm : public torch::nn::Module {
 public:
  GroupNorm(int64_t num_groups, int64_t channels, double eps);
  at::Tensor forward(const at::Tensor& x, const RowBands& rows) const;

 private:
  // The band path: statistics summed over the group.
  at::Tensor forward_band(const at::Tensor& x, const RowBands& rows) const;

  int64_t num_groups_;
  double eps_;
  at::Tensor weight_, bias_;
};

}  // namespace tessera
