#pragma once
// Classifier-free guidance in parallel (--cfg 2): the conditional branch runs on the ranks with CFG index 0,
// the unconditional on those with index 1, each branch on its own context-parallel group. Once per step
// the two predictions meet and are combined; every rank gets the guided prediction.
#include <ATen/core/Tensor.h>

namespace tessera {

class Communicator;

enum class GuidanceBranch { conditional = 0, unconditional = 1 };

// uncond + scale * (cond - uncond): the one formula both the serial and the parallel paths use.
at::Tensor classifier_free_guidance(const at::Tensor& conditional, const at::Tensor& unconditional, double scale);

// Which branch this rank computes in a CFG group of size 2.
GuidanceBranch guidance_branch(const Communicator& cfg_group);

// Exchanges this rank's branch prediction within the CFG group (size 2) and returns the guided prediction.
at::Tensor combine_guidance(Communicator& cfg_group, const at::Tensor& local_prediction, double scale);

}  // namespace tessera
