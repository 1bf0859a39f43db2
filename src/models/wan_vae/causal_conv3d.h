#pragma once
// diffusers' WanCausalConv3d: a Conv3d ("weight" [out, in, kt, kh, kw], "bias") whose temporal padding is all
// in front (frame t sees t and the frames before it), filled with the frames the previous chunk left in the
// cache (feature_cache.h), with zeros where there are none. Spatial padding is zeros, except along the rows of
// a split decode, where it is the neighbouring bands' rows (row_bands.h).
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <array>
#include <cstdint>

#include "src/models/wan_vae/feature_cache.h"
#include "src/models/vae/row_bands.h"

namespace tessera::wan_vae {

class CausalConv3d : public torch::nn::Module {
 public:
  using Triple = std::array<int64_t, 3>;  // (frames, height, width)
  CausalConv3d(int64_t in_channels, int64_t out_channels, Triple kernel, Triple stride = {1, 1, 1},
               Triple padding = {0, 0, 0});

  // x after `history` (frames of x's band with its halo rows; undefined: no history, all zeros).
  at::Tensor forward(const at::Tensor& x, const at::Tensor& history, const RowBands& rows) const;
  // With the slot's frames as the history; the slot then keeps this chunk's last frames (diffusers' feat_cache).
  at::Tensor forward(const at::Tensor& x, CachedFrames& slot, const RowBands& rows) const;

 private:
  at::Tensor convolve(const at::Tensor& x_with_halo, const at::Tensor& history) const;

  Triple stride_, padding_;
  at::Tensor weight_, bias_;
};

}  // namespace tessera::wan_vae
