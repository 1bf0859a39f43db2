#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/headeronly/version.h>
#include <unistd.h>

#include <iostream>

#include "common/check.h"
#include "launch/cli_options.h"
#include "launch/commands.h"
#include "launch/own_session.h"
#include "parallel/gather_text.h"
#include "parallel/mpi_communicator.h"
#include "parallel/mpi_runtime.h"
#include "parallel/nccl_communicator.h"

namespace tessera {
namespace {

std::string version_text(long encoded) {  // CUDA's 13000 -> "13.0"
  return detail::concat(encoded / 1000, ".", (encoded % 1000) / 10);
}

std::string cuda_text() {
  const auto& hooks = at::detail::getCUDAHooks();
  if (!hooks.isBuilt()) return "not built into this torch";
  std::string text = "runtime " + version_text(hooks.versionCUDART());
  text += hooks.hasCUDA() ? detail::concat(", ", hooks.deviceCount(), " device(s) visible") : ", no device visible";
  return text;
}

std::string host_name() {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  return name;
}

}  // namespace

int run_info(int argc, char** argv, MpiRuntime& runtime) {
  auto options = cli::make_options("info", "Print the build (tessera, torch, CUDA, NCCL, MPI) and each rank's device.");
  const auto parsed = cli::parse(options, argc, argv, runtime.world_rank() == 0);
  if (!parsed) return 0;
  const DeviceBinding binding = cli::configure_rank(options.program(), runtime, *parsed);
  auto world = MpiCommunicator::world();
  const auto ranks = all_gather_text(
      *world, detail::concat("rank ", runtime.world_rank(), ": host ", host_name(), ", ", binding.description,
                             runs_in_own_session() ? ", own session" : ", launcher's session"));
  if (runtime.world_rank() != 0) return 0;
  std::cout << "tessera " << TESSERA_VERSION << "\n"
            << "torch   " << TORCH_VERSION << "\n"
            << "CUDA    " << cuda_text() << "\n"
            << "NCCL    " << nccl_version() << "\n"
            << "MPI     " << MpiRuntime::library_version() << "\n"
            << "world   " << runtime.world_size() << " rank(s)\n";
  for (const auto& line : ranks) std::cout << "  " << line << "\n";
  std::cout << std::flush;
  return 0;
}

}  // namespace tessera
