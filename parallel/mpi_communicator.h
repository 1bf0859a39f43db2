#pragma once
// MPI backend: CPU tensors, and CUDA tensors staged through host memory (so several ranks can share one
// GPU in tests). Uses only non-blocking MPI calls so that every wait can honour the deadline.
#include <mpi.h>

#include "parallel/communicator.h"

namespace tessera {

class MpiCommunicator final : public Communicator {
 public:
  // Takes ownership of `comm`.
  MpiCommunicator(MPI_Comm comm, std::string name, std::vector<int> world_ranks);
  ~MpiCommunicator() override;

  // A private duplicate of MPI_COMM_WORLD named "world". MPI must be initialised (MpiRuntime).
  static std::shared_ptr<MpiCommunicator> world();

  Backend backend() const override { return Backend::mpi; }
  MPI_Comm handle() const { return comm_; }

 protected:
  at::Tensor stage(const at::Tensor& input) override;
  bool reduces_natively(c10::ScalarType dtype) const override;
  void all_gather_flat(const at::Tensor& send, at::Tensor& recv, const std::vector<int64_t>& counts,
                       const std::vector<int64_t>& displacements) override;
  void all_to_all_flat(const at::Tensor& send, const std::vector<int64_t>& send_counts,
                       const std::vector<int64_t>& send_displacements, at::Tensor& recv,
                       const std::vector<int64_t>& recv_counts,
                       const std::vector<int64_t>& recv_displacements) override;
  // Host tensors move as derived datatypes over the inputs and the result (mpi_view_datatype.h): no send buffer,
  // no unpacking; this rank's own chunk is one copy. Device tensors take the staged default.
  at::Tensor exchange_chunks(at::TensorList inputs, const ChunkExchange& exchange) override;
  void all_reduce_flat(at::Tensor& buffer, ReduceOp op) override;
  void broadcast_flat(at::Tensor& buffer, int root) override;
  void send_flat(const at::Tensor& buffer, int peer) override;
  void recv_flat(at::Tensor& buffer, int peer) override;
  ExchangeHandle start_exchange_flat(const at::Tensor& send, at::Tensor& recv, int send_to, int recv_from) override;
  ExchangeHandle start_all_gather_flat(const at::Tensor& send, at::Tensor& recv, const std::vector<int64_t>& counts,
                                       const std::vector<int64_t>& displacements) override;
  void barrier_impl() override;
  std::shared_ptr<Communicator> split_impl(int color, int key, const std::string& name,
                                           std::vector<int> world_ranks, int rank) override;

 private:
  // Polls continuously while `bytes` (what this rank sends and receives) should take to move, then backs off
  // (wait_backoff.h).
  void wait(std::vector<MPI_Request>& requests, const OperationDescription& description, int64_t bytes);

  MPI_Comm comm_;
};

}  // namespace tessera
