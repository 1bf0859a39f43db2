#include "src/models/load_sharded.h"

#include <ATen/ATen.h>

#include <utility>

#include "hooks/module.h"
#include "parallel/communicator.h"
#include "parallel/sharded_weights.h"
#include "parallel/weight_gather_hooks.h"

namespace tessera {

std::shared_ptr<ShardedWeights> load_weight_shares(torch::nn::Module& part, std::vector<WeightUnit> units,
                                                   const io::WeightSource& source, const io::DtypeOf& dtype_of,
                                                   c10::Device device, std::shared_ptr<Communicator> group) {
  for (WeightUnit& unit : units) {
    for (UnitParameter& parameter : unit.parameters) {
      if (at::isFloatingType(parameter.dtype)) parameter.dtype = dtype_of(parameter.name);
    }
  }
  auto weights = std::make_shared<ShardedWeights>(std::move(units), std::move(group), device);
  io::load_weights(part, source, dtype_of, device, weights->local_pieces());
  weights->release_all();
  return weights;
}

void load_sharded_weights(Module& part, const io::WeightSource& source, const io::DtypeOf& dtype_of,
                          c10::Device device, std::shared_ptr<Communicator> group) {
  enable_weight_gathers(part, load_weight_shares(part, weight_units(part), source, dtype_of, device, std::move(group)));
}

}  // namespace tessera
