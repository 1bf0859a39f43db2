#include "parallel/shard_in_place.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <utility>

#include "hooks/hook_registry.h"
#include "hooks/module.h"
#include "parallel/communicator.h"
#include "parallel/sharded_weights.h"
#include "parallel/weight_gather_hooks.h"
#include "parallel/weight_units.h"

namespace tessera {

std::shared_ptr<ShardedWeights> shard_in_place(Module& model, std::shared_ptr<Communicator> group,
                                               c10::Device device) {
  auto weights = std::make_shared<ShardedWeights>(weight_units(model), std::move(group), device);
  {
    // Copies into the rank's buffers, no part of a graph.
    c10::InferenceMode no_graph;
    const auto parameters = model.named_parameters(/*recurse=*/true);
    for (const auto& [name, piece] : weights->local_pieces()) {
      at::Tensor destination = piece.destination;
      destination.copy_(parameters[name].reshape({-1}).narrow(0, piece.begin, destination.numel()));
    }
  }
  weights->release_all();
  enable_weight_gathers(model, weights);
  return weights;
}

void unshard_in_place(Module& model) {
  const std::shared_ptr<ShardedWeights> weights = sharded_weights_of(model);
  if (weights == nullptr) return;
  // In unit order, as a forward gathers them (each before() starts the next unit's gather); nothing is released.
  for (size_t unit = 0; unit < weights->units(); ++unit) weights->before(unit);
  for (size_t unit = 0; unit < weights->units(); ++unit) {
    model.at(weights->unit_name(unit)).hook_registry()->remove_hook(kWeightGatherHookName);
  }
}

}  // namespace tessera
