#include "parallel/device_mesh.h"

#include "common/check.h"

namespace tessera {

DeviceMesh::DeviceMesh(std::shared_ptr<Communicator> world, const ParallelConfig& config)
    : config_(config), world_(std::move(world)) {
  TESSERA_CHECK(world_ != nullptr, "DeviceMesh needs a world communicator");
  validate(config_, world_->size());
  coordinates_ = mesh_coordinates(config_, world_->rank());
  const auto& c = coordinates_;
  const int ulysses_position = c.ring * config_.ulysses + c.ulysses;  // position inside the CP group
  ulysses_ = world_->split(c.cfg * config_.ring + c.ring, c.ulysses, "ulysses");
  ring_ = world_->split(c.cfg * config_.ulysses + c.ulysses, c.ring, "ring");
  context_parallel_ = world_->split(c.cfg, ulysses_position, "cp");
  cfg_ = world_->split(ulysses_position, c.cfg, "cfg");
}

}  // namespace tessera
