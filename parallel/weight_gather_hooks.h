#pragma once
// When a sharded model's weights are gathered and freed: one hook on the model (unit 0, the parameters outside the
// blocks, held for the whole forward) and one on each block of its stack. A block's pre_forward materialises its
// weights and starts the next block's gather; its post_forward frees them. The hooks run whether or not a step cache
// replaces the block's forward, so every rank of the group gathers the same units in the same order whatever each
// decides (CFG-parallel ranks run different branches, whose caches may decide differently).
#include <memory>

namespace tessera {

class Module;
class ShardedWeights;

inline constexpr const char* kWeightGatherHookName = "weight_gather";

// Registers the hooks on `model` and on the modules `weights`' units name (the same model's weight_units).
void enable_weight_gathers(Module& model, std::shared_ptr<ShardedWeights> weights);
// The model's sharded weights, or null when it is not sharded.
std::shared_ptr<ShardedWeights> sharded_weights_of(Module& model);

}  // namespace tessera
