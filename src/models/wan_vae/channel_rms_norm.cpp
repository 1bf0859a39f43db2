#include "src/models/wan_vae/channel_rms_norm.h"

#include <ATen/ATen.h>

#include <cmath>

#include "src/models/parameters.h"

namespace tessera::wan_vae {

ChannelRmsNorm::ChannelRmsNorm(int64_t channels, bool images) : scale_(std::sqrt(static_cast<double>(channels))) {
  gamma_ = register_parameter("gamma", images ? constant_parameter({channels, 1, 1}, 1.0)
                                              : constant_parameter({channels, 1, 1, 1}, 1.0));
}

at::Tensor ChannelRmsNorm::forward(const at::Tensor& x) const {
  const bool half = x.scalar_type() == at::kHalf || x.scalar_type() == at::kBFloat16;
  const at::Tensor wide = half ? x.to(at::kFloat) : x;
  // F.normalize: divide by the L2 norm, kept away from zero.
  const at::Tensor normalized = (wide / at::norm(wide, 2, {1}, /*keepdim=*/true).clamp_min(1e-12)).to(x.scalar_type());
  return normalized * scale_ * gamma_;
}

}  // namespace tessera::wan_vae
