#pragma once
#include <memory>
#include <string>
#include <vector>

#include "parallel/communicator.h"

namespace tessera {

// Where this rank computes, as far as the choice of backend cares.
struct RankPlacement {
  int cuda_device = -1;  // the rank's CUDA device, -1 on CPU
  std::string gpu;       // the physical GPU behind it, "host/PCI bus id" (gpu_identity); empty on CPU
};

// "host/0000:41:00.0" for CUDA device `device` of this process: equal for two ranks only when they drive one GPU,
// whatever CUDA_VISIBLE_DEVICES each sees.
std::string gpu_identity(int device);

// Why NCCL cannot run a job whose ranks sit on `gpus` (every rank's RankPlacement::gpu, in world order), or "" when
// it can: a rank without a GPU, or two ranks on one GPU (NCCL refuses that). Counting local ranks against visible
// GPUs cannot tell: with CUDA_VISIBLE_DEVICES per rank, as Slurm sets it, every rank sees one GPU of its own.
std::string nccl_placement_problem(const std::vector<std::string>& gpus);

// Throws tessera::Error naming the choices for a backend name other than auto, mpi or nccl.
void check_backend_name(const std::string& backend);

// The world communicator for a backend name: "mpi", "nccl", or "auto": NCCL when it was built and every rank
// has a GPU of its own (nccl_placement_problem is empty); otherwise MPI, staging CUDA tensors through the host,
// and the log says why. Collective over MPI_COMM_WORLD: every rank learns every rank's placement.
std::shared_ptr<Communicator> make_world_communicator(const std::string& backend, const RankPlacement& placement);

}  // namespace tessera
