#include "src/models/parameters.h"

#include <ATen/ATen.h>

namespace tessera {
namespace {

thread_local bool meta_parameters = false;

at::Tensor meta_parameter(c10::IntArrayRef sizes) { return at::empty(sizes, at::TensorOptions().device(at::kMeta)); }

}  // namespace

MetaParameterScope::MetaParameterScope() : previous_(meta_parameters) { meta_parameters = true; }
MetaParameterScope::~MetaParameterScope() { meta_parameters = previous_; }

bool meta_parameters_active() { return meta_parameters; }

at::Tensor uniform_parameter(c10::IntArrayRef sizes, double bound) {
  if (meta_parameters) return meta_parameter(sizes);
  return at::empty(sizes).uniform_(-bound, bound);
}

at::Tensor normal_parameter(c10::IntArrayRef sizes, double std) {
  if (meta_parameters) return meta_parameter(sizes);
  return at::randn(sizes) * std;
}

at::Tensor constant_parameter(c10::IntArrayRef sizes, double value) {
  if (meta_parameters) return meta_parameter(sizes);
  return at::full(sizes, value);
}

}  // namespace tessera
