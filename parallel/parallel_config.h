#pragma once
#include <string>

namespace tessera {

// Degrees of parallelism. Context parallelism (cp) = ulysses × ring; the world = cp × cfg.
struct ParallelConfig {
  int ulysses = 1;
  int ring = 1;
  int cfg = 1;

  int context_parallel_degree() const { return ulysses * ring; }
  int world_size() const { return ulysses * ring * cfg; }
  std::string to_string() const;
};

// Throws tessera::Error naming the numbers when the degrees cannot run on `world_size` ranks.
void validate(const ParallelConfig& config, int world_size);

// Where a rank sits in the mesh. Ulysses is innermost so its all-to-all runs between neighbouring ranks
// (the same node), Ring next, CFG outermost: world_rank = (cfg × ring + ring_index) × ulysses + ulysses_index.
struct MeshCoordinates {
  int cfg = 0;
  int ring = 0;
  int ulysses = 0;
};
MeshCoordinates mesh_coordinates(const ParallelConfig& config, int world_rank);

}  // namespace tessera
