#include "src/models/vae/convolution.h"

#include <ATen/ATen.h>

#include <vector>

namespace tessera {

at::Tensor convolution(const at::Tensor& input, const at::Tensor& weight, const at::Tensor& bias,
                       at::IntArrayRef stride, at::IntArrayRef padding) {
  const bool one_dnn = at::hasMKLDNN() && input.device().is_cpu() &&
                       (input.scalar_type() == at::kFloat || input.scalar_type() == at::kBFloat16);
  if (one_dnn) {
    const std::vector<int64_t> dilation(stride.size(), 1);
    return at::mkldnn_convolution(input.contiguous(), weight, bias, padding, stride, dilation, /*groups=*/1);
  }
  return at::convolution(input, weight, bias, stride, padding, std::vector<int64_t>(stride.size(), 1),
                         /*transposed=*/false, /*output_padding=*/std::vector<int64_t>(stride.size(), 0),
                         /*groups=*/1);
}

}  // namespace tessera
