#pragma once
// torch.nn.Embedding's table, "weight" [count, dim]: UMT5's token embedding ("shared") and each layer's
// relative position bias.
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

namespace tessera {

class Umt5Embedding : public torch::nn::Module {
 public:
  Umt5Embedding(int64_t count, int64_t dim, double init_std);
  // The rows of `indices` (int64, any shape) -> [..., dim], in the table's dtype.
  at::Tensor forward(const at::Tensor& indices) const;
  int64_t count() const { return weight_.size(0); }

 private:
  at::Tensor weight_;
};

}  // namespace tessera
