#pragma once
// Context parallelism for a model written for one device: its plan becomes hooks that split the sequence
// across the context-parallel group and gather it back, and, for the duration of the model's forward,
// sequence-parallel attention runs as Ulysses, Ring or USP according to the mesh. disable_parallelism
// removes every hook, and the model is the single-rank model again.
#include <memory>

#include "hooks/module.h"
#include "parallel/communicator.h"
#include "parallel/context_parallel_plan.h"
#include "parallel/device_mesh.h"

namespace tessera {

// `model` is the module the plan's paths are relative to. Throws naming the path when a plan entry matches
// no module, and when parallelism is already enabled on the model.
void enable_parallelism(Module& model, const ContextParallelPlan& plan, std::shared_ptr<DeviceMesh> mesh);
void disable_parallelism(Module& model);
bool parallelism_enabled(Module& model);

// The context-parallel group the model's hooks split the sequence over, read from the hook enable_parallelism
// put on the model; null when parallelism is not enabled (or its degree is 1). The pointer shares ownership
// of the mesh, so a holder keeps the group alive even after disable_parallelism drops the hooks.
std::shared_ptr<Communicator> context_parallel_group(Module& model);

// Bytes and calls per operation over the mesh's context-parallel groups (cp, Ulysses, Ring), summed.
CommunicationStats context_parallel_stats(const DeviceMesh& mesh);
void reset_context_parallel_stats(DeviceMesh& mesh);

}  // namespace tessera
