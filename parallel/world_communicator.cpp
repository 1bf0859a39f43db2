#include "parallel/world_communicator.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "common/log.h"
#include "parallel/mpi_communicator.h"
#include "parallel/nccl_communicator.h"

namespace tessera {

void check_backend_name(const std::string& backend) {
  TESSERA_CHECK(backend == "auto" || backend == "mpi" || backend == "nccl", "unknown backend '", backend,
                "'; use --backend auto, mpi or nccl");
}

std::shared_ptr<Communicator> make_world_communicator(const std::string& backend, const RankPlacement& placement) {
  check_backend_name(backend);
  auto world = MpiCommunicator::world();
  const bool cuda = placement.cuda_device >= 0;
  const bool ranks_share_gpus = placement.local_ranks > placement.visible_gpus;
  if (backend == "mpi") return world;
  if (backend == "nccl") {
    TESSERA_CHECK(cuda, "--backend nccl needs a CUDA device on every rank; use --backend mpi on CPU");
    TESSERA_CHECK(!ranks_share_gpus, "--backend nccl needs one GPU per rank, but ", placement.local_ranks,
                  " ranks on this node share ", placement.visible_gpus,
                  " GPU(s); use --backend mpi (host-staged) or fewer ranks per node");
    return make_nccl_communicator(*world, placement.cuda_device);
  }
  // Every rank must pick the same backend, and nodes may differ (GPUs, ranks per node): vote.
  const bool can_use_nccl = cuda && nccl_built() && !ranks_share_gpus;
  const at::Tensor vetoes = at::full({1}, can_use_nccl ? 0 : 1, at::kInt);
  const bool everyone_can = world->all_reduce(vetoes, ReduceOp::max).item<int>() == 0;
  if (everyone_can) return make_nccl_communicator(*world, placement.cuda_device);
  if (cuda) {
    TESSERA_LOG_INFO("backend auto: MPI, staging CUDA tensors through the host, because ",
                     !nccl_built()         ? std::string("this tessera was built without NCCL")
                     : ranks_share_gpus    ? detail::concat(placement.local_ranks, " ranks on this node share ",
                                                            placement.visible_gpus, " GPU(s) and NCCL needs one per rank")
                                           : std::string("another rank cannot use NCCL"));
  }
  return world;
}

}  // namespace tessera
