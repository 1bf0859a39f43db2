#include "parallel/parallel_config.h"

#include "common/check.h"

namespace tessera {

std::string ParallelConfig::to_string() const {
  return detail::concat("ulysses=", ulysses, " ring=", ring, " cfg=", cfg);
}

void validate(const ParallelConfig& config, int world_size) {
  TESSERA_CHECK(config.ulysses >= 1 && config.ring >= 1 && config.cfg >= 1,
                "parallel degrees must be at least 1, got ", config.to_string());
  TESSERA_CHECK(config.cfg == 1 || config.cfg == 2, "--cfg must be 1 or 2 (the conditional and unconditional "
                "branches), got ", config.cfg);
  const bool keep_cfg = world_size % config.cfg == 0;
  TESSERA_CHECK(config.world_size() == world_size, "--ulysses ", config.ulysses, " x --ring ", config.ring,
                " x --cfg ", config.cfg, " = ", config.world_size(), " ranks, but the job has ", world_size,
                " (mpirun -np ", world_size, "). Launch with -np ", config.world_size(),
                ", or choose degrees whose product is ", world_size, ", for example --ulysses ",
                keep_cfg ? world_size / config.cfg : world_size, " --ring 1 --cfg ", keep_cfg ? config.cfg : 1);
}

MeshCoordinates mesh_coordinates(const ParallelConfig& config, int world_rank) {
  TESSERA_CHECK(world_rank >= 0 && world_rank < config.world_size(), "rank ", world_rank,
                " is outside a mesh of ", config.world_size(), " ranks");
  MeshCoordinates coordinates;
  coordinates.ulysses = world_rank % config.ulysses;
  coordinates.ring = (world_rank / config.ulysses) % config.ring;
  coordinates.cfg = world_rank / config.context_parallel_degree();
  return coordinates;
}

}  // namespace tessera
