#pragma once
// torch.nn.Embedding's table, "weight" [count, dim]: token and position embeddings (UMT5/T5, CLIP) and T5's
// relative position bias.
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

namespace tessera {

class Embedding : public torch::nn::Module {
 public:
  Embedding(int64_t count, int64_t dim, double init_std);
  // The rows of `indices` (int64, any shape) -> [..., dim], in the table's dtype.
  at::Tensor forward(const at::Tensor& indices) const;
  int64_t count() const { return weight_.size(0); }

 private:
  at::Tensor weight_;
};

}  // namespace tessera
