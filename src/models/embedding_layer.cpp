#include "src/models/embedding_layer.h"

#include <ATen/ATen.h>

#include "src/models/parameters.h"

namespace tessera {

Embedding::Embedding(int64_t count, int64_t dim, double init_std) {
  weight_ = register_parameter("weight", normal_parameter({count, dim}, init_std));
}

at::Tensor Embedding::forward(const at::Tensor& indices) const { return at::embedding(weight_, indices); }

}  // namespace tessera
