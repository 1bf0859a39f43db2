#pragma once
// A group of one rank: every operation is a copy (or nothing) on the rank's device, with no transport. A NCCL split
// whose group has one member gets one: a NCCL communicator of one rank would cost an initialisation, device memory
// and a watchdog thread for operations that move nothing.
#include <c10/core/Device.h>

#include "parallel/communicator.h"

namespace tessera {

class SingleRankCommunicator final : public Communicator {
 public:
  // `backend` is the parent's (what the group reports); tensors are staged to `device`, as the parent stages them.
  SingleRankCommunicator(std::string name, int world_rank, Backend backend, c10::Device device);

  Backend backend() const override { return backend_; }

 protected:
  at::Tensor stage(const at::Tensor& input) override;
  bool reduces_natively(c10::ScalarType) const override { return true; }  // one rank: nothing is summed
  void all_gather_flat(const at::Tensor& send, at::Tensor& recv, const std::vector<int64_t>& counts,
                       const std::vector<int64_t>& displacements) override;
  void all_to_all_flat(const at::Tensor& send, const std::vector<int64_t>& send_counts,
                       const std::vector<int64_t>& send_displacements, at::Tensor& recv,
                       const std::vector<int64_t>& recv_counts,
                       const std::vector<int64_t>& recv_displacements) override;
  void all_reduce_flat(at::Tensor&, ReduceOp) override {}
  void broadcast_flat(at::Tensor&, int) override {}
  void send_flat(const at::Tensor& buffer, int peer) override;
  void recv_flat(at::Tensor& buffer, int peer) override;
  ExchangeHandle start_exchange_flat(const at::Tensor& send, at::Tensor& recv, int send_to, int recv_from) override;
  void barrier_impl() override {}
  std::shared_ptr<Communicator> split_impl(int color, int key, const std::string& name, std::vector<int> world_ranks,
                                           int rank) override;

 private:
  Backend backend_;
  c10::Device device_;
};

}  // namespace tessera
