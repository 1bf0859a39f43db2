#pragma once
// Filling a part built shape-only (load_part.h) with this rank's share of its weights (--shard-weights,
// parallel/sharded_weights.h): each parameter's share is read straight from the mapped safetensors into the rank's
// buffer, so no rank ever holds a whole copy, not even while loading; buffers load whole.
#include <c10/core/Device.h>
#include <torch/nn/module.h>

#include <memory>
#include <utility>
#include <vector>

#include "parallel/weight_units.h"
#include "src/io/load_weights.h"
#include "src/io/weight_source.h"
#include "src/models/load_part.h"

namespace tessera {

class Communicator;
class Module;
class ShardedWeights;
class ShareStorage;

// The shares of `units` (the part's weight_units), loaded: the parameters hold empty tensors until a unit is
// gathered (ShardedWeights::before), which the part's forward asks for itself. Every rank of `group` must call it,
// for the same part and units. With a `storage`, the parameters it names keep their shares in its dtype (FP8
// storage, share_storage.h).
std::shared_ptr<ShardedWeights> load_weight_shares(torch::nn::Module& part, std::vector<WeightUnit> units,
                                                   const io::WeightSource& source, const io::DtypeOf& dtype_of,
                                                   c10::Device device, std::shared_ptr<Communicator> group,
                                                   ShareStorage* storage = nullptr);

// load_part (load_part.h) for a part whose forward gathers its own units (GathersOwnUnits: the text encoders):
// built shape-only, then this rank's share of each weight read into the units its weight_unit_paths() names
// (weight_units), which it gathers as its forward reaches them; the ranks that do not run it accompany its gathers.
// Every rank of `group` must call it.
template <class Build>
auto load_part_shares(Build&& build, const io::WeightSource& source, const io::DtypeOf& dtype_of, c10::Device device,
                      std::shared_ptr<Communicator> group) {
  decltype(build()) part;
  {
    WeightlessLoadScope shape_only;  // built and put in eval mode; the shares are read below
    part = load_part(std::forward<Build>(build), source, dtype_of, device);
  }
  std::vector<WeightUnit> units = weight_units(*part, part->weight_unit_paths());
  part->set_sharded_weights(load_weight_shares(*part, std::move(units), source, dtype_of, device, std::move(group)));
  return part;
}

// A transformer's shares (its block stack's units), with the hooks that gather each block's weights just before it
// runs (parallel/weight_gather_hooks.h). Every rank of `group` must call it, for the same part; `storage` as above.
void load_sharded_weights(Module& part, const io::WeightSource& source, const io::DtypeOf& dtype_of,
                          c10::Device device, std::shared_ptr<Communicator> group, ShareStorage* storage = nullptr);

}  // namespace tessera
