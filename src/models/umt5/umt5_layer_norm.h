#pragma once
// T5's layer norm: scales by the root mean square (no mean subtracted, no bias), the mean of squares taken in
// fp32 whatever the input, and the result cast to the weight's dtype before the weight multiplies it.
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

namespace tessera {

class Umt5LayerNorm : public torch::nn::Module {
 public:
  Umt5LayerNorm(int64_t dim, double eps);
  at::Tensor forward(const at::Tensor& x) const;

 private:
  double eps_;
  at::Tensor weight_;
};

}  // namespace tessera
