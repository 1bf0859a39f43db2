#pragma once
#include <memory>

#include "parallel/communicator.h"
#include "parallel/parallel_config.h"

namespace tessera {

// The process groups of one ParallelConfig, split from the world communicator: Ulysses (all-to-all of
// heads), Ring (k/v passing), context-parallel (Ulysses × Ring: the sequence shards) and CFG (branches).
class DeviceMesh {
 public:
  DeviceMesh(std::shared_ptr<Communicator> world, const ParallelConfig& config);

  const ParallelConfig& config() const { return config_; }
  const MeshCoordinates& coordinates() const { return coordinates_; }
  Communicator& world() const { return *world_; }
  Communicator& ulysses() const { return *ulysses_; }
  Communicator& ring() const { return *ring_; }
  Communicator& context_parallel() const { return *context_parallel_; }
  Communicator& cfg() const { return *cfg_; }

 private:
  ParallelConfig config_;
  MeshCoordinates coordinates_;
  std::shared_ptr<Communicator> world_, ulysses_, ring_, context_parallel_, cfg_;
};

}  // namespace tessera
