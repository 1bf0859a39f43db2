#include "src/models/load_sharded.h"

#include <ATen/ATen.h>

#include <utility>

#include "hooks/module.h"
#include "parallel/communicator.h"
#include "parallel/sharded_weights.h"
#include "parallel/weight_gather_hooks.h"
#include "parallel/weight_units.h"
#include "src/models/share_storage.h"

namespace tessera {

void load_sharded_weights(Module& part, const io::WeightSource& source, const io::DtypeOf& dtype_of,
                          c10::Device device, std::shared_ptr<Communicator> group, ShareStorage* storage) {
  std::vector<WeightUnit> units = weight_units(part);
  for (WeightUnit& unit : units) {
    for (UnitParameter& parameter : unit.parameters) {
      if (at::isFloatingType(parameter.dtype)) parameter.dtype = share_dtype(storage, parameter.name, dtype_of(parameter.name));
    }
  }
  auto weights = std::make_shared<ShardedWeights>(std::move(units), group, device);
  read_shares(part, source, dtype_of, device, weights->local_pieces(), storage, *group);
  weights->release_all();
  enable_weight_gathers(part, std::move(weights));
}

}  // namespace tessera
