#include "parallel/cfg_parallel.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "parallel/communicator.h"

namespace tessera {

at::Tensor classifier_free_guidance(const at::Tensor& conditional, const at::Tensor& unconditional, double scale) {
  return unconditional + scale * (conditional - unconditional);
}

GuidanceBranch guidance_branch(const Communicator& cfg_group) {
  TESSERA_CHECK(cfg_group.size() == 2, "CFG parallelism needs a group of 2 ranks (conditional, unconditional), got ",
                cfg_group.size());
  return static_cast<GuidanceBranch>(cfg_group.rank());
}

at::Tensor combine_guidance(Communicator& cfg_group, const at::Tensor& local_prediction, double scale) {
  guidance_branch(cfg_group);  // validates the group
  const at::Tensor both = cfg_group.all_gather(local_prediction.unsqueeze(0), 0, {1, 1});
  return classifier_free_guidance(both[0], both[1], scale);
}

}  // namespace tessera
