#include "parallel/mpi_communicator.h"

#include <ATen/ATen.h>

#include <climits>

#include "common/check.h"
#include "parallel/mpi_check.h"
#include "parallel/mpi_view_datatype.h"
#include "parallel/shard_sizes.h"
#include "parallel/wait_backoff.h"

namespace tessera {
namespace {

constexpr int kPointToPointTag = 7;
constexpr int kExchangeTag = 8;
constexpr int kChunkTag = 9;

// Polls `requests` once (a poll also moves a transfer's next fragments along): true when every one is complete.
bool requests_done(std::vector<MPI_Request>& requests) {
  int done = 0;
  TESSERA_CHECK_MPI(MPI_Testall(static_cast<int>(requests.size()), requests.data(), &done, MPI_STATUSES_IGNORE));
  return done != 0;
}

int query_rank(MPI_Comm comm) {
  int rank = 0;
  TESSERA_CHECK_MPI(MPI_Comm_rank(comm, &rank));
  return rank;
}

// Movement ops travel as bytes; MPI counts are ints, so one rank's message is limited to 2 GiB.
int byte_count(int64_t elements, int64_t element_size) {
  const int64_t bytes = elements * element_size;
  TESSERA_CHECK(bytes <= INT_MAX, "an MPI message of ", bytes,
                " bytes exceeds MPI's 2 GiB count limit; split the tensor or use the NCCL backend");
  return static_cast<int>(bytes);
}

std::vector<int> byte_counts(const std::vector<int64_t>& elements, int64_t element_size) {
  std::vector<int> bytes(elements.size());
  for (size_t i = 0; i < elements.size(); ++i) bytes[i] = byte_count(elements[i], element_size);
  return bytes;
}

MPI_Datatype reduction_type(c10::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return MPI_FLOAT;
    case at::kDouble: return MPI_DOUBLE;
    case at::kLong: return MPI_INT64_T;
    case at::kInt: return MPI_INT32_T;
    case at::kByte: return MPI_UINT8_T;
    default: return MPI_DATATYPE_NULL;
  }
}

MPI_Op reduction_op(ReduceOp op) {
  TESSERA_INTERNAL_ASSERT(op != ReduceOp::avg, "avg is lowered to sum by Communicator");
  return op == ReduceOp::max ? MPI_MAX : MPI_SUM;
}

std::vector<int> world_ranks_of(MPI_Comm comm) {
  int size = 0;
  TESSERA_CHECK_MPI(MPI_Comm_size(comm, &size));
  MPI_Group group, world_group;
  TESSERA_CHECK_MPI(MPI_Comm_group(comm, &group));
  TESSERA_CHECK_MPI(MPI_Comm_group(MPI_COMM_WORLD, &world_group));
  std::vector<int> local(size), world(size);
  for (int i = 0; i < size; ++i) local[i] = i;
  TESSERA_CHECK_MPI(MPI_Group_translate_ranks(group, size, local.data(), world_group, world.data()));
  MPI_Group_free(&group);
  MPI_Group_free(&world_group);
  return world;
}

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm comm, std::string name, std::vector<int> world_ranks)
    : Communicator(std::move(name), std::move(world_ranks), query_rank(comm)), comm_(comm) {
  // Errors come back as codes so TESSERA_CHECK_MPI can name the call instead of MPI aborting silently.
  TESSERA_CHECK_MPI(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Comm_free(&comm_);
}

std::shared_ptr<MpiCommunicator> MpiCommunicator::world() {
  MPI_Comm duplicate;
  TESSERA_CHECK_MPI(MPI_Comm_dup(MPI_COMM_WORLD, &duplicate));
  return std::make_shared<MpiCommunicator>(duplicate, "world", world_ranks_of(duplicate));
}

at::Tensor MpiCommunicator::stage(const at::Tensor& input) { return input.to(at::kCPU).contiguous(); }

bool MpiCommunicator::reduces_natively(c10::ScalarType dtype) const {
  return reduction_type(dtype) != MPI_DATATYPE_NULL;
}

void MpiCommunicator::wait(std::vector<MPI_Request>& requests, const OperationDescription& description,
                           int64_t bytes) {
  const auto is_done = [&requests] { return requests_done(requests); };
  if (poll_through_transfer(is_done, bytes)) return;
  wait_with_deadline(is_done, description);
}

void MpiCommunicator::all_gather_flat(const at::Tensor& send, at::Tensor& recv, const std::vector<int64_t>& counts,
                                      const std::vector<int64_t>& displacements) {
  start_all_gather_flat(send, recv, counts, displacements).wait();
}

ExchangeHandle MpiCommunicator::start_all_gather_flat(const at::Tensor& send, at::Tensor& recv,
                                                      const std::vector<int64_t>& counts,
                                                      const std::vector<int64_t>& displacements) {
  const auto element = send.element_size();
  const auto recv_counts = byte_counts(counts, element);
  const auto recv_displacements = byte_counts(displacements, element);
  auto requests = std::make_shared<std::vector<MPI_Request>>(1);
  TESSERA_CHECK_MPI(MPI_Iallgatherv(send.data_ptr(), byte_count(send.numel(), element), MPI_BYTE, recv.data_ptr(),
                                    recv_counts.data(), recv_displacements.data(), MPI_BYTE, comm_, &(*requests)[0]));
  auto progress = [requests] { return requests_done(*requests); };
  return {.wait = [this, requests, description = describe_operation("all_gather"), bytes = recv.nbytes()] {
            wait(*requests, description, bytes);
          },
          .progress = progress};
}

void MpiCommunicator::all_to_all_flat(const at::Tensor& send, const std::vector<int64_t>& send_counts,
                                      const std::vector<int64_t>& send_displacements, at::Tensor& recv,
                                      const std::vector<int64_t>& recv_counts,
                                      const std::vector<int64_t>& recv_displacements) {
  const auto element = send.element_size();
  const auto send_bytes = byte_counts(send_counts, element);
  const auto send_offsets = byte_counts(send_displacements, element);
  const auto recv_bytes = byte_counts(recv_counts, element);
  const auto recv_offsets = byte_counts(recv_displacements, element);
  std::vector<MPI_Request> requests(1);
  TESSERA_CHECK_MPI(MPI_Ialltoallv(send.data_ptr(), send_bytes.data(), send_offsets.data(), MPI_BYTE,
                                   recv.data_ptr(), recv_bytes.data(), recv_offsets.data(), MPI_BYTE, comm_,
                                   &requests[0]));
  wait(requests, describe_operation("all_to_all"), send.nbytes() + recv.nbytes());
}

at::Tensor MpiCommunicator::exchange_chunks(at::TensorList inputs, const ChunkExchange& exchange) {
  if (!inputs[0].is_cpu()) return Communicator::exchange_chunks(inputs, exchange);
  std::vector<int64_t> output_sizes{static_cast<int64_t>(inputs.size())};
  output_sizes.insert(output_sizes.end(), exchange.output_shape.begin(), exchange.output_shape.end());
  at::Tensor output = at::empty(output_sizes, inputs[0].options());
  const auto scatter_offsets = exclusive_prefix_sum(exchange.scatter_sizes);
  const auto gather_offsets = exclusive_prefix_sum(exchange.gather_sizes);
  const auto chunk_for = [&](int peer) {  // what this rank sends to `peer`
    std::vector<at::Tensor> views;
    for (const at::Tensor& input : inputs) {
      views.push_back(input.narrow(exchange.scatter_dim, scatter_offsets[peer], exchange.scatter_sizes[peer]));
    }
    return views;
  };
  const auto chunk_from = [&](int peer) {  // where what `peer` sends lands
    std::vector<at::Tensor> views;
    for (int64_t i = 0; i < output.size(0); ++i) {
      views.push_back(output[i].narrow(exchange.gather_dim, gather_offsets[peer], exchange.gather_sizes[peer]));
    }
    return views;
  };
  // Every receive is posted before any send; peers are taken at increasing distance so that, at more than two
  // ranks, each rank starts on a different partner.
  std::vector<MPI_Request> requests;
  requests.reserve(2 * size());
  int64_t bytes = 0;
  for (int distance = 1; distance < size(); ++distance) {
    const int peer = (rank() - distance + size()) % size();
    const MpiViewDatatype type(chunk_from(peer));  // freeing a type leaves the operation using it intact
    requests.emplace_back();
    TESSERA_CHECK_MPI(MPI_Irecv(MPI_BOTTOM, 1, type.handle(), peer, kChunkTag, comm_, &requests.back()));
    bytes += type.bytes();
  }
  for (int distance = 1; distance < size(); ++distance) {
    const int peer = (rank() + distance) % size();
    const MpiViewDatatype type(chunk_for(peer));
    requests.emplace_back();
    TESSERA_CHECK_MPI(MPI_Isend(MPI_BOTTOM, 1, type.handle(), peer, kChunkTag, comm_, &requests.back()));
    bytes += type.bytes();
  }
  const auto own = chunk_for(rank()), own_destination = chunk_from(rank());
  for (size_t i = 0; i < own.size(); ++i) own_destination[i].copy_(own[i]);
  wait(requests, describe_operation("all_to_all"), bytes);
  return output;
}

void MpiCommunicator::all_reduce_flat(at::Tensor& buffer, ReduceOp op) {
  const MPI_Datatype type = reduction_type(buffer.scalar_type());
  TESSERA_CHECK(type != MPI_DATATYPE_NULL, "all_reduce does not support dtype ", buffer.scalar_type());
  TESSERA_CHECK(buffer.numel() <= INT_MAX, "all_reduce of ", buffer.numel(), " elements exceeds MPI's count limit");
  std::vector<MPI_Request> requests(1);
  TESSERA_CHECK_MPI(MPI_Iallreduce(MPI_IN_PLACE, buffer.data_ptr(), static_cast<int>(buffer.numel()), type,
                                   reduction_op(op), comm_, &requests[0]));
  wait(requests, describe_operation("all_reduce", to_string(op)), 2 * buffer.nbytes());
}

void MpiCommunicator::broadcast_flat(at::Tensor& buffer, int root) {
  std::vector<MPI_Request> requests(1);
  TESSERA_CHECK_MPI(MPI_Ibcast(buffer.data_ptr(), byte_count(buffer.numel(), buffer.element_size()), MPI_BYTE,
                               root, comm_, &requests[0]));
  wait(requests, describe_operation("broadcast", "root " + std::to_string(root)), buffer.nbytes());
}

void MpiCommunicator::send_flat(const at::Tensor& buffer, int peer) {
  std::vector<MPI_Request> requests(1);
  TESSERA_CHECK_MPI(MPI_Isend(buffer.data_ptr(), byte_count(buffer.numel(), buffer.element_size()), MPI_BYTE,
                              peer, kPointToPointTag, comm_, &requests[0]));
  wait(requests, describe_operation("send", "to rank " + std::to_string(peer)), buffer.nbytes());
}

void MpiCommunicator::recv_flat(at::Tensor& buffer, int peer) {
  std::vector<MPI_Request> requests(1);
  TESSERA_CHECK_MPI(MPI_Irecv(buffer.data_ptr(), byte_count(buffer.numel(), buffer.element_size()), MPI_BYTE,
                              peer, kPointToPointTag, comm_, &requests[0]));
  wait(requests, describe_operation("recv", "from rank " + std::to_string(peer)), buffer.nbytes());
}

ExchangeHandle MpiCommunicator::start_exchange_flat(const at::Tensor& send, at::Tensor& recv, int send_to,
                                                    int recv_from) {
  auto requests = std::make_shared<std::vector<MPI_Request>>(2);
  const int bytes = byte_count(send.numel(), send.element_size());
  TESSERA_CHECK_MPI(MPI_Irecv(recv.data_ptr(), bytes, MPI_BYTE, recv_from, kExchangeTag, comm_, &(*requests)[0]));
  TESSERA_CHECK_MPI(MPI_Isend(send.data_ptr(), bytes, MPI_BYTE, send_to, kExchangeTag, comm_, &(*requests)[1]));
  auto description = describe_operation(
      "exchange", "to rank " + std::to_string(send_to) + ", from rank " + std::to_string(recv_from));
  // Open MPI moves a large message one fragment per poll: progress() between pieces of work keeps it moving.
  auto progress = [requests] { return requests_done(*requests); };
  return {.wait = [this, requests, description, bytes] { wait(*requests, description, 2 * int64_t{bytes}); },
          .progress = progress};
}

void MpiCommunicator::barrier_impl() {
  std::vector<MPI_Request> requests(1);
  TESSERA_CHECK_MPI(MPI_Ibarrier(comm_, &requests[0]));
  wait(requests, describe_operation("barrier"), 0);
}

std::shared_ptr<Communicator> MpiCommunicator::split_impl(int color, int key, const std::string& name,
                                                          std::vector<int> world_ranks, int rank) {
  MPI_Comm child;
  TESSERA_CHECK_MPI(MPI_Comm_split(comm_, color < 0 ? MPI_UNDEFINED : color, key, &child));
  if (child == MPI_COMM_NULL) return nullptr;
  auto communicator = std::make_shared<MpiCommunicator>(child, name, std::move(world_ranks));
  TESSERA_INTERNAL_ASSERT(communicator->rank() == rank, "MPI ordered the split group differently");
  return communicator;
}

}  // namespace tessera
