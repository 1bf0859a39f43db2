#pragma once
// diffusers' WanAttentionBlock: single-head self-attention over the pixels of each frame, with an image RMS norm
// ("norm"), 1x1 convs "to_qkv" and "proj", and the input added back. In a split decode each rank attends from
// its band's pixels to the whole frame's keys and values, gathered from every band.
#include <memory>

#include "src/models/wan_vae/channel_rms_norm.h"
#include "src/models/vae/conv2d.h"
#include "src/models/vae/row_bands.h"

namespace tessera::wan_vae {

class WanAttentionBlock : public torch::nn::Module {
 public:
  explicit WanAttentionBlock(int64_t dim);
  // x [B, C, T, h, W] -> the same shape.
  at::Tensor forward(const at::Tensor& x, const RowBands& rows) const;

 private:
  std::shared_ptr<ChannelRmsNorm> norm_;
  std::shared_ptr<Conv2d> to_qkv_, proj_;
};

}  // namespace tessera::wan_vae
