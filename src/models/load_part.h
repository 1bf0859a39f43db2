#pragma once
// The one load sequence every part follows (transformer, VAE, text encoders): build it shape-only, with its
// parameters on the meta device (parameters.h), so the weights exist once, straight from the checkpoint; fill it
// from `source`, each floating-point tensor in the dtype `dtype_rule` gives (a c10::ScalarType, or an
// io::DtypeOf by name); put it in eval mode.
#include <c10/core/Device.h>

#include <memory>
#include <utility>

#include "src/io/load_weights.h"
#include "src/io/weight_source.h"
#include "src/models/parameters.h"

namespace tessera {

template <class Build, class DtypeRule>
auto load_part(Build&& build, const io::WeightSource& source, const DtypeRule& dtype_rule, c10::Device device) {
  decltype(build()) part;
  {
    MetaParameterScope shape_only;
    part = std::forward<Build>(build)();
  }
  io::load_weights(*part, source, dtype_rule, device);
  part->eval();
  return part;
}

}  // namespace tessera
