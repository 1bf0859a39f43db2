#pragma once
// Every parameter a model makes comes from these functions, so that a model built to be loaded costs no memory:
// while a MetaParameterScope lives on the thread, parameters are shape-only tensors on the meta device, and
// load_weights gives each its data straight from the checkpoint in the target dtype (no randomly initialised
// fp32 copy first). Outside a scope they get the initialisation a model trained from scratch needs.
#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>

namespace tessera {

class MetaParameterScope {
 public:
  MetaParameterScope();
  ~MetaParameterScope();
  MetaParameterScope(const MetaParameterScope&) = delete;
  MetaParameterScope& operator=(const MetaParameterScope&) = delete;

 private:
  bool previous_;
};

bool meta_parameters_active();

// Uniform in [-bound, bound]: torch's default for Linear and Conv weights and biases is bound 1/sqrt(fan_in).
at::Tensor uniform_parameter(c10::IntArrayRef sizes, double bound);
at::Tensor normal_parameter(c10::IntArrayRef sizes, double std);
at::Tensor constant_parameter(c10::IntArrayRef sizes, double value);

}  // namespace tessera
