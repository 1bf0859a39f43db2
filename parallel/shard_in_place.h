#pragma once
// Sharding a model that is already whole in memory, and making it whole again (`tessera bench scaling
// --weights-sharding`): the same ShardedWeights and gather hooks as a sharded load (src/models/load_sharded.h), its
// shares copied from the model's own parameters instead of read from a checkpoint. A loaded model is sharded as it
// loads; this serves a model that must run both ways in one process.
#include <c10/core/Device.h>

#include <memory>

namespace tessera {

class Communicator;
class Module;
class ShardedWeights;

// Every rank of `group` must call it with the same model (same weights). Each parameter gives up its whole data (freed
// when nothing else holds it) for this rank's share; the model then gathers each unit's weights as it runs.
std::shared_ptr<ShardedWeights> shard_in_place(Module& model, std::shared_ptr<Communicator> group,
                                               c10::Device device);
// Collective over the group the model was sharded across: gathers every unit once more, leaves the parameters
// holding those whole copies and removes the gather hooks. No-op on a model that is not sharded.
void unshard_in_place(Module& model);

}  // namespace tessera
