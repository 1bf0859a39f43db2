// Built instead of nccl_communicator.cpp when the CUDA toolkit or the wheel's NCCL was missing at build time.
#include "common/check.h"
#include "parallel/nccl_communicator.h"

namespace tessera {

bool nccl_built() { return false; }

std::string nccl_version() { return "not built"; }

std::string cuda_device_bus_id(int device) {
  TESSERA_CHECK(false, "this tessera was built without CUDA; cannot identify cuda:", device);
}

int64_t cuda_free_bytes(int device) {
  TESSERA_CHECK(false, "this tessera was built without CUDA; cannot read the memory of cuda:", device);
}

std::shared_ptr<Communicator> make_nccl_communicator(MpiCommunicator&, int) {
  TESSERA_CHECK(false, "this tessera was built without NCCL (no CUDA toolkit or nvidia-nccl at configure time); "
                "use --backend mpi, or rebuild on a machine with nvcc after scripts/setup.sh");
}

}  // namespace tessera
