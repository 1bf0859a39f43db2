#include "cache/collective_decision.h"

#include <ATen/ATen.h>

#include "parallel/communicator.h"

namespace tessera {

bool reuse_on_every_rank(Communicator* group, bool reuse_here) {
  if (group == nullptr || group->size() <= 1) return reuse_here;
  // A max over "must compute" flags: integers, so no rounding can make two ranks read the result differently.
  const at::Tensor must_compute = at::tensor({reuse_here ? int64_t{0} : int64_t{1}}, at::kLong);
  return group->all_reduce(must_compute, ReduceOp::max).cpu()[0].item<int64_t>() == 0;
}

}  // namespace tessera
