#pragma once
// A group of ranks that exchange tensors. The tensor-level semantics (dims, uneven sizes, dtypes,
// non-contiguous inputs, device staging, statistics) live here once; backends (MPI, NCCL) implement a
// few primitives on flat contiguous buffers. Every wait is bounded by the communication deadline.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "parallel/deadline.h"

namespace tessera {

enum class Backend { mpi, nccl };
enum class ReduceOp { sum, avg, max };

std::string to_string(Backend backend);
std::string to_string(ReduceOp op);

struct OperationStats {
  int64_t calls = 0;
  int64_t bytes_sent = 0;  // payload this rank sent to other ranks (all_reduce: the ring-algorithm volume)
};
using CommunicationStats = std::map<std::string, OperationStats>;

// What a backend returns for a started exchange.
struct ExchangeHandle {
  std::function<void()> wait;      // returns once the received data may be used (in host or stream order)
  std::function<bool()> progress;  // optional: advances a host-driven transfer without waiting; true once done
};

// A started ring/point-to-point exchange; wait() returns the received tensor. Work done meanwhile may call
// progress() between its pieces, so that a backend that moves data only while polled keeps moving it.
class PendingExchange {
 public:
  PendingExchange(ExchangeHandle handle, at::Tensor received, c10::Device result_device);
  // Advances the transfer if the backend needs polling for that; true once it is known to be complete.
  bool progress();
  bool needs_progress() const { return !waited_ && static_cast<bool>(handle_.progress); }
  at::Tensor wait();

 private:
  ExchangeHandle handle_;
  at::Tensor received_;
  c10::Device result_device_;
  bool waited_ = false;
};

class Communicator {
 public:
  Communicator(std::string name, std::vector<int> world_ranks, int rank);
  virtual ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return static_cast<int>(world_ranks_.size()); }
  const std::string& name() const { return name_; }
  const std::vector<int>& world_ranks() const { return world_ranks_; }
  std::string describe() const;
  virtual Backend backend() const = 0;

  // Concatenation of every rank's tensor along `dim`; sizes along `dim` may differ between ranks.
  at::Tensor all_gather(const at::Tensor& input, int64_t dim);
  // Same, with every rank's size along `dim` known to the caller (saves one metadata exchange).
  at::Tensor all_gather(const at::Tensor& input, int64_t dim, const std::vector<int64_t>& sizes);

  // Splits `input` along `scatter_dim` into size() chunks (shard_sizes rule), sends chunk i to rank i,
  // and concatenates the chunks received along `gather_dim`. Ranks may differ in their `gather_dim` size.
  at::Tensor all_to_all(const at::Tensor& input, int64_t scatter_dim, int64_t gather_dim);
  at::Tensor all_to_all(const at::Tensor& input, int64_t scatter_dim, int64_t gather_dim,
                        const std::vector<int64_t>& gather_sizes);
  // Same, with the chunk sent to each rank given (they must sum to the scatter dim's size): a shard returning
  // to ranks whose sequence shards were not cut by the shard_sizes rule (FLUX's text + image tokens).
  at::Tensor all_to_all(const at::Tensor& input, int64_t scatter_dim, int64_t gather_dim,
                        const std::vector<int64_t>& gather_sizes, const std::vector<int64_t>& scatter_sizes);

  // The all-to-all of several tensors at once (Ulysses' q, k and v): chunk r along `scatter_dim` (scatter_sizes[r]
  // rows) of every input goes to rank r, and the chunks from rank s are joined in rank order along `gather_dim`
  // (gather_sizes[s] rows each; the inputs hold gather_sizes[rank()] there). The inputs share one shape, dtype and
  // device and may be strided views. Returns [inputs.size(), shape...], contiguous, on the inputs' device: shape is
  // the inputs' with scatter_sizes[rank()] along scatter_dim and the gathered total along gather_dim.
  at::Tensor all_to_all_chunks(at::TensorList inputs, int64_t scatter_dim, const std::vector<int64_t>& scatter_sizes,
                               int64_t gather_dim, const std::vector<int64_t>& gather_sizes);

  // Every rank's value of `local` (a length, a count), in rank order.
  std::vector<int64_t> all_gather_sizes(int64_t local);

  at::Tensor all_reduce(const at::Tensor& input, ReduceOp op);
  at::Tensor broadcast(const at::Tensor& input, int root);  // every rank returns root's tensor
  void send(const at::Tensor& input, int peer);
  void recv(at::Tensor& output, int peer);  // fills `output`, whose shape and dtype the sender matches
  // Sends `input` to `send_to` while receiving a tensor of the same shape from `recv_from`.
  std::unique_ptr<PendingExchange> exchange_async(const at::Tensor& input, int send_to, int recv_from);
  at::Tensor exchange(const at::Tensor& input, int send_to, int recv_from);
  at::Tensor ring_exchange(const at::Tensor& input);  // to rank + 1, from rank - 1
  // Starts gathering every rank's 1-D `input` (counts[r] elements from rank r, rank-major) into one 1-D tensor;
  // wait() returns it on the input's device. Sharded weights gather the next block's while one computes.
  // `destination`, when given (of the gathered length and the input's dtype and device), receives the result: a
  // caller gathering the same sizes again reuses its buffers instead of faulting fresh pages in every time.
  std::unique_ptr<PendingExchange> all_gather_flat_async(const at::Tensor& input, const std::vector<int64_t>& counts,
                                                         at::Tensor destination = {});
  void barrier();

  // Ranks with the same color form a new group, ordered by (key, rank). A negative color joins none and
  // returns nullptr. Every rank of this group must call it.
  std::shared_ptr<Communicator> split(int color, int key, const std::string& name);

  const CommunicationStats& stats() const { return stats_; }
  void reset_stats() { stats_.clear(); }

 protected:
  // Backend primitives. Buffers are 1-D, contiguous, and already staged where the backend works;
  // counts and displacements are in elements.
  virtual at::Tensor stage(const at::Tensor& input) = 0;
  virtual bool reduces_natively(c10::ScalarType dtype) const = 0;
  virtual void all_gather_flat(const at::Tensor& send, at::Tensor& recv, const std::vector<int64_t>& counts,
                               const std::vector<int64_t>& displacements) = 0;
  virtual void all_to_all_flat(const at::Tensor& send, const std::vector<int64_t>& send_counts,
                               const std::vector<int64_t>& send_displacements, at::Tensor& recv,
                               const std::vector<int64_t>& recv_counts,
                               const std::vector<int64_t>& recv_displacements) = 0;
  // all_to_all_chunks after its checks. By default the inputs are packed into one send buffer by destination
  // (all_to_all_pack), exchanged by all_to_all_flat and unpacked; a backend that can read and write strided memory
  // itself (MPI's derived datatypes) skips both copies.
  struct ChunkExchange {
    int64_t scatter_dim = 0;
    std::vector<int64_t> scatter_sizes;
    int64_t gather_dim = 0;
    std::vector<int64_t> gather_sizes;
    std::vector<int64_t> output_shape;  // one input's result
  };
  virtual at::Tensor exchange_chunks(at::TensorList inputs, const ChunkExchange& exchange);
  virtual void all_reduce_flat(at::Tensor& buffer, ReduceOp op) = 0;  // sum or max, in place
  virtual void broadcast_flat(at::Tensor& buffer, int root) = 0;
  virtual void send_flat(const at::Tensor& buffer, int peer) = 0;
  virtual void recv_flat(at::Tensor& buffer, int peer) = 0;
  // Starts the exchange and returns how to wait for it and, optionally, how to advance it.
  virtual ExchangeHandle start_exchange_flat(const at::Tensor& send, at::Tensor& recv, int send_to,
                                                    int recv_from) = 0;
  // Starts an all_gather_flat; by default it runs to completion here (in stream order on NCCL) and the handle
  // has nothing left to wait for.
  virtual ExchangeHandle start_all_gather_flat(const at::Tensor& send, at::Tensor& recv,
                                               const std::vector<int64_t>& counts,
                                               const std::vector<int64_t>& displacements);
  virtual void barrier_impl() = 0;
  virtual std::shared_ptr<Communicator> split_impl(int color, int key, const std::string& name,
                                                   std::vector<int> world_ranks, int rank) = 0;

  OperationDescription describe_operation(const std::string& operation, const std::string& detail = {}) const;

 private:
  void record(const std::string& operation, int64_t bytes_sent);
  void check_peer(int peer, const char* operation) const;
  std::vector<std::vector<int64_t>> exchange_shapes(const at::Tensor& input);
  // Every rank's size along `dim`, after checking that the shapes differ nowhere else.
  std::vector<int64_t> sizes_along(const at::Tensor& input, int64_t dim, const char* operation);

  std::string name_;
  std::vector<int> world_ranks_;
  int rank_;
  CommunicationStats stats_;
};

}  // namespace tessera
