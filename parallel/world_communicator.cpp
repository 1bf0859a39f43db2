#include "parallel/world_communicator.h"

#include "common/check.h"
#include "parallel/mpi_communicator.h"
#include "parallel/nccl_communicator.h"

namespace tessera {

void check_backend_name(const std::string& backend) {
  TESSERA_CHECK(backend == "auto" || backend == "mpi" || backend == "nccl", "unknown backend '", backend,
                "'; use --backend auto, mpi or nccl");
}

std::shared_ptr<Communicator> make_world_communicator(const std::string& backend, bool cuda_device) {
  check_backend_name(backend);
  auto world = MpiCommunicator::world();
  const bool use_nccl = backend == "nccl" || (backend == "auto" && cuda_device && nccl_built());
  if (!use_nccl) return world;
  TESSERA_CHECK(cuda_device, "--backend nccl needs a CUDA device on every rank; use --backend mpi on CPU");
  return make_nccl_communicator(*world);
}

}  // namespace tessera
