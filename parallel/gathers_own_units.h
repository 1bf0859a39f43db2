#pragma once
// A model whose forward gathers its own weight units (GatheredUnit, sharded_weights.h) rather than through hooks:
// the text encoders, which one rank of a generation runs while the group's other ranks accompany its gathers
// (src/models/load_sharded.h's load_part_shares sets them up).
#include <memory>
#include <utility>

#include "parallel/sharded_weights.h"

namespace tessera {

class GathersOwnUnits {
 public:
  // The sharded weights the forward gathers; null (as built): every weight is held.
  void set_sharded_weights(std::shared_ptr<ShardedWeights> weights) { sharded_weights_ = std::move(weights); }
  // On a rank of the group that does not run the forward: its gathers, with no computation.
  void accompany_forward() const {
    if (sharded_weights_ != nullptr) sharded_weights_->accompany_forward();
  }

 protected:
  ~GathersOwnUnits() = default;
  // What the forward's GatheredUnit scopes take: null when the weights are held whole.
  ShardedWeights* sharded_weights() const { return sharded_weights_.get(); }

 private:
  std::shared_ptr<ShardedWeights> sharded_weights_;
};

}  // namespace tessera
