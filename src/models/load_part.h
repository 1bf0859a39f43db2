#pragma once
// The one load sequence every part follows (transformer, VAE, text encoders): build it shape-only, with its
// parameters on the meta device (parameters.h), so the weights exist once, straight from the checkpoint; fill it
// from `source`, each floating-point tensor in the dtype `dtype_rule` gives (a c10::ScalarType, or an
// io::DtypeOf by name); put it in eval mode. Under a WeightlessLoadScope, the part stays shape-only.
#include <c10/core/Device.h>

#include <memory>
#include <utility>

#include "src/io/load_weights.h"
#include "src/io/weight_source.h"
#include "src/models/parameters.h"

namespace tessera {

// While one lives on the thread, load_part builds parts shape-only (meta parameters) and reads no weights: for a
// rank that never runs the part, yet needs what it knows without its weights (a text encoder's tokenizer and
// prompt checks on ranks that receive the embeddings from the one rank that encodes).
class WeightlessLoadScope {
 public:
  WeightlessLoadScope() : previous_(active_) { active_ = true; }
  ~WeightlessLoadScope() { active_ = previous_; }
  WeightlessLoadScope(const WeightlessLoadScope&) = delete;
  WeightlessLoadScope& operator=(const WeightlessLoadScope&) = delete;
  static bool active() { return active_; }

 private:
  bool previous_;
  static inline thread_local bool active_ = false;
};

template <class Build, class DtypeRule>
auto load_part(Build&& build, const io::WeightSource& source, const DtypeRule& dtype_rule, c10::Device device) {
  decltype(build()) part;
  {
    MetaParameterScope shape_only;
    part = std::forward<Build>(build)();
  }
  if (!WeightlessLoadScope::active()) io::load_weights(*part, source, dtype_rule, device);
  part->eval();
  return part;
}

}  // namespace tessera
