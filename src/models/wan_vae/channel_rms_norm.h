#pragma once
// diffusers' WanRMS_norm over the channel dim (dim 1): x / |x| * sqrt(C) * gamma, the norm taken in fp32 for
// half-precision inputs. "gamma" is [C, 1, 1] for images ([N, C, H, W]), [C, 1, 1, 1] for videos. The
// configurations tessera reads have no bias.
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>

namespace tessera::wan_vae {

class ChannelRmsNorm : public torch::nn::Module {
 public:
  ChannelRmsNorm(int64_t channels, bool images);
  at::Tensor forward(const at::Tensor& x) const;

 private:
  double scale_;
  at::Tensor gamma_;
};

}  // namespace tessera::wan_vae
