#pragma once
#include <string>

namespace tessera {

// Owns MPI's lifetime in a process: MPI_Init_thread on construction, MPI_Finalize on destruction.
// Also knows the node-local rank, from which each rank picks its device.
class MpiRuntime {
 public:
  MpiRuntime(int* argc, char*** argv);
  ~MpiRuntime();
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;

  int world_rank() const { return world_rank_; }
  int world_size() const { return world_size_; }
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }

  static std::string library_version();  // MPI_Get_library_version, first line

 private:
  int world_rank_ = 0;
  int world_size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
};

}  // namespace tessera
