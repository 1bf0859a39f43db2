#pragma once
#include <string>

namespace tessera {

// Which threads call MPI. funneled: the main thread alone (torch's worker threads never do), what every command
// needs; multiple: any thread, at any time (`tessera batch`'s rank 0 answers the other groups from a thread while
// its main thread computes), requested only by the command that needs it.
enum class MpiThreading { funneled, multiple };

// Owns MPI's lifetime in a process: MPI_Init_thread on construction, MPI_Finalize on destruction.
// Also knows the node-local rank, from which each rank picks its device.
class MpiRuntime {
 public:
  MpiRuntime(int* argc, char*** argv, MpiThreading threading = MpiThreading::funneled);
  ~MpiRuntime();
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;

  int world_rank() const { return world_rank_; }
  int world_size() const { return world_size_; }
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }

  static std::string library_version();  // MPI_Get_library_version, first line
  // Whether MPI was initialised so that any thread may call it (MPI_THREAD_MULTIPLE granted): a library may have
  // been built without it, so asking for it is no guarantee.
  static bool any_thread_may_call();

 private:
  int world_rank_ = 0;
  int world_size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
};

}  // namespace tessera
