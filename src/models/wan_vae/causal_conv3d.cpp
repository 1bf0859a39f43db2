#include "src/models/wan_vae/causal_conv3d.h"

#include <ATen/ATen.h>

#include <cmath>

#include "common/check.h"
#include "src/models/vae/convolution.h"
#include "src/models/parameters.h"

namespace tessera::wan_vae {

CausalConv3d::CausalConv3d(int64_t in_channels, int64_t out_channels, Triple kernel, Triple stride, Triple padding)
    : stride_(stride), padding_(padding) {
  // torch's default Conv initialisation: uniform in +-1/sqrt(fan_in) for both weight and bias.
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_channels * kernel[0] * kernel[1] * kernel[2]));
  weight_ = register_parameter("weight",
                               uniform_parameter({out_channels, in_channels, kernel[0], kernel[1], kernel[2]}, bound));
  bias_ = register_parameter("bias", uniform_parameter({out_channels}, bound));
}

at::Tensor CausalConv3d::convolve(const at::Tensor& x_with_halo, const at::Tensor& history) const {
  const int64_t causal = 2 * padding_[0];  // diffusers moves both sides' temporal padding to the front
  std::vector<at::Tensor> pieces;
  const int64_t remembered = causal > 0 && history.defined() ? history.size(2) : 0;
  TESSERA_INTERNAL_ASSERT(remembered <= causal, "a history of ", remembered, " frames for a window of ", causal);
  if (remembered < causal) {
    std::vector<int64_t> shape(x_with_halo.sizes().begin(), x_with_halo.sizes().end());
    shape[2] = causal - remembered;
    pieces.push_back(at::zeros(shape, x_with_halo.options()));
  }
  if (remembered > 0) pieces.push_back(history);
  pieces.push_back(x_with_halo);
  const at::Tensor input = pieces.size() == 1 ? x_with_halo : at::cat(pieces, 2);
  return convolution(input, weight_, bias_, stride_, {0, 0, padding_[2]});
}

at::Tensor CausalConv3d::forward(const at::Tensor& x, const at::Tensor& history, const RowBands& rows) const {
  return convolve(rows.with_halo(x, padding_[1]), history);
}

at::Tensor CausalConv3d::forward(const at::Tensor& x, CachedFrames& slot, const RowBands& rows) const {
  const at::Tensor x_with_halo = rows.with_halo(x, padding_[1]);
  at::Tensor output = convolve(x_with_halo, slot.frames);
  slot.frames = frames_to_keep(x_with_halo, slot.frames);
  slot.visited = true;
  return output;
}

}  // namespace tessera::wan_vae
