#pragma once
// Filling a part built shape-only (load_part.h) with this rank's share of its weights (--shard-weights,
// parallel/sharded_weights.h): each parameter's share is read straight from the mapped safetensors into the rank's
// buffer, so no rank ever holds a whole copy, not even while loading; buffers load whole.
#include <c10/core/Device.h>
#include <torch/nn/module.h>

#include <memory>
#include <vector>

#include "parallel/weight_units.h"
#include "src/io/load_weights.h"
#include "src/io/weight_source.h"

namespace tessera {

class Communicator;
class Module;
class ShardedWeights;

// The shares of `units` (the part's weight_units), loaded: the parameters hold empty tensors until a unit is
// gathered (ShardedWeights::before), which the part's forward asks for itself. Every rank of `group` must call it,
// for the same part and units.
std::shared_ptr<ShardedWeights> load_weight_shares(torch::nn::Module& part, std::vector<WeightUnit> units,
                                                   const io::WeightSource& source, const io::DtypeOf& dtype_of,
                                                   c10::Device device, std::shared_ptr<Communicator> group);

// A transformer's shares (its block stack's units), with the hooks that gather each block's weights just before it
// runs (parallel/weight_gather_hooks.h). Every rank of `group` must call it, for the same part.
void load_sharded_weights(Module& part, const io::WeightSource& source, const io::DtypeOf& dtype_of,
                          c10::Device device, std::shared_ptr<Communicator> group);

}  // namespace tessera
