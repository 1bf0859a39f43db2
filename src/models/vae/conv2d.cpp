#include "src/models/vae/conv2d.h"

#include <ATen/ATen.h>

#include <cmath>

#include "src/models/parameters.h"
#include "src/models/vae/convolution.h"

namespace tessera {

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride, int64_t padding)
    : stride_(stride), padding_(padding) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_channels * kernel * kernel));  // torch's default
  weight_ = register_parameter("weight", uniform_parameter({out_channels, in_channels, kernel, kernel}, bound));
  bias_ = register_parameter("bias", uniform_parameter({out_channels}, bound));
}

at::Tensor Conv2d::forward(const at::Tensor& x, const RowBands& rows) const {
  return convolution(rows.with_halo(x, padding_), weight_, bias_, {stride_, stride_}, {0, padding_});
}

}  // namespace tessera
