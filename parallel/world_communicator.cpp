#include "parallel/world_communicator.h"

#include <ATen/ATen.h>

#include <unistd.h>

#include <map>

#include "common/check.h"
#include "common/log.h"
#include "parallel/gather_text.h"
#include "parallel/mpi_communicator.h"
#include "parallel/nccl_communicator.h"

namespace tessera {
std::string gpu_identity(int device) {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return std::string(host) + "/" + cuda_device_bus_id(device);
}

std::string nccl_placement_problem(const std::vector<std::string>& gpus) {
  std::map<std::string, int> first_rank_on;
  for (int rank = 0; rank < static_cast<int>(gpus.size()); ++rank) {
    if (gpus[rank].empty()) return detail::concat("rank ", rank, " has no CUDA device");
    const auto [found, inserted] = first_rank_on.emplace(gpus[rank], rank);
    if (!inserted) {
      return detail::concat("ranks ", found->second, " and ", rank, " share the GPU ", gpus[rank],
                            " and NCCL needs one per rank");
    }
  }
  return "";
}

void check_backend_name(const std::string& backend) {
  TESSERA_CHECK(backend == "auto" || backend == "mpi" || backend == "nccl", "unknown backend '", backend,
                "'; use --backend auto, mpi or nccl");
}

std::shared_ptr<Communicator> make_world_communicator(const std::string& backend, const RankPlacement& placement) {
  check_backend_name(backend);
  auto world = MpiCommunicator::world();
  if (backend == "mpi") return world;
  // Every rank must pick the same backend, and nodes may differ (GPUs, ranks per node): each decides from all.
  const std::string problem = nccl_placement_problem(all_gather_text(*world, placement.gpu));
  const bool cuda = placement.cuda_device >= 0;
  if (backend == "nccl") {
    TESSERA_CHECK(cuda, "--backend nccl needs a CUDA device on every rank; use --backend mpi on CPU");
    TESSERA_CHECK(problem.empty(), "--backend nccl needs one GPU per rank, but ", problem,
                  "; use --backend mpi (host-staged) or fewer ranks per node");
    return make_nccl_communicator(*world, placement.cuda_device);
  }
  if (nccl_built() && problem.empty()) return make_nccl_communicator(*world, placement.cuda_device);
  if (cuda) {
    TESSERA_LOG_INFO("backend auto: MPI, staging CUDA tensors through the host, because ",
                     nccl_built() ? problem : std::string("this tessera was built without NCCL"));
  }
  return world;
}

}  // namespace tessera
