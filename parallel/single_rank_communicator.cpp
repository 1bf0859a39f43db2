#include "parallel/single_rank_communicator.h"

#include <ATen/ATen.h>

#include "common/check.h"

namespace tessera {

SingleRankCommunicator::SingleRankCommunicator(std::string name, int world_rank, Backend backend, c10::Device device)
    : Communicator(std::move(name), {world_rank}, 0), backend_(backend), device_(device) {}

at::Tensor SingleRankCommunicator::stage(const at::Tensor& input) { return input.to(device_).contiguous(); }

void SingleRankCommunicator::all_gather_flat(const at::Tensor& send, at::Tensor& recv,
                                             const std::vector<int64_t>& counts,
                                             const std::vector<int64_t>& displacements) {
  recv.narrow(0, displacements.at(0), counts.at(0)).copy_(send.narrow(0, 0, counts.at(0)));
}

void SingleRankCommunicator::all_to_all_flat(const at::Tensor& send, const std::vector<int64_t>& send_counts,
                                             const std::vector<int64_t>& send_displacements, at::Tensor& recv,
                                             const std::vector<int64_t>& recv_counts,
                                             const std::vector<int64_t>& recv_displacements) {
  TESSERA_INTERNAL_ASSERT(send_counts.at(0) == recv_counts.at(0), "a rank sends itself ", send_counts.at(0),
                          " elements but expects ", recv_counts.at(0));
  recv.narrow(0, recv_displacements.at(0), recv_counts.at(0))
      .copy_(send.narrow(0, send_displacements.at(0), send_counts.at(0)));
}

// The base class refuses a send or receive to the rank itself before reaching here.
void SingleRankCommunicator::send_flat(const at::Tensor&, int peer) {
  TESSERA_INTERNAL_ASSERT(false, "send to rank ", peer, " in a group of one");
}

void SingleRankCommunicator::recv_flat(at::Tensor&, int peer) {
  TESSERA_INTERNAL_ASSERT(false, "recv from rank ", peer, " in a group of one");
}

ExchangeHandle SingleRankCommunicator::start_exchange_flat(const at::Tensor& send, at::Tensor& recv, int, int) {
  recv.copy_(send);
  return {.wait = [] {}, .progress = {}};
}

std::shared_ptr<Communicator> SingleRankCommunicator::split_impl(int color, int, const std::string& name,
                                                                 std::vector<int> world_ranks, int) {
  if (color < 0) return nullptr;
  return std::make_shared<SingleRankCommunicator>(name, world_ranks.at(0), backend_, device_);
}

}  // namespace tessera
