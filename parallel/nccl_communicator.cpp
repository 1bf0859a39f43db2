#include "parallel/nccl_communicator.h"

#include <ATen/ATen.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <cstring>

#include "common/log.h"
#include "parallel/nccl_check.h"
#include "parallel/nccl_watchdog.h"
#include "parallel/single_rank_communicator.h"

namespace tessera {
namespace {

// bf16 and fp16 are not listed: the base class sums them in fp32, as over MPI, so both backends agree.
std::optional<ncclDataType_t> reduction_type(c10::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return ncclFloat32;
    case at::kDouble: return ncclFloat64;
    case at::kLong: return ncclInt64;
    case at::kInt: return ncclInt32;
    case at::kByte: return ncclUint8;
    default: return std::nullopt;
  }
}

size_t bytes_of(int64_t elements, const at::Tensor& like) { return static_cast<size_t>(elements) * like.element_size(); }

char* byte_pointer(const at::Tensor& tensor, int64_t element_offset = 0) {
  return static_cast<char*>(tensor.data_ptr()) + bytes_of(element_offset, tensor);
}

ncclConfig_t non_blocking_config() {
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;  // calls return at once (ncclInProgress); we poll under our deadline instead of hanging
  return config;
}

// Waits, under the deadline, until a non-blocking communicator has finished what its last call started
// (initialisation, a split, an enqueue). ncclInProgress is not success: it is polled until it turns into one.
void settle(ncclComm_t comm, ncclResult_t returned, const char* call, const OperationDescription& description) {
  auto failure = [&](ncclResult_t status) {
    abort_job(detail::concat(call, " failed during ", describe_operation_in_group(description), " on world rank ",
                             world_rank_of(description), ": ", ncclGetErrorString(status), " (",
                             ncclGetLastError(comm), "). Aborting every rank."),
              3, [comm] { ncclCommAbort(comm); });
  };
  if (returned == ncclSuccess) return;
  if (returned != ncclInProgress) failure(returned);
  wait_with_deadline(
      [&] {
        ncclResult_t state = ncclSuccess;
        const ncclResult_t query = ncclCommGetAsyncError(comm, &state);
        if (query != ncclSuccess) failure(query);
        if (state == ncclInProgress) return false;
        if (state != ncclSuccess) failure(state);
        return true;
      },
      description, [comm] { ncclCommAbort(comm); });
}

#define TESSERA_NCCL_ENQUEUE(call, description) settle(comm_, (call), #call, description)

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(ncclComm_t comm, std::string name, std::vector<int> world_ranks, int rank, int device)
      : Communicator(std::move(name), std::move(world_ranks), rank),
        comm_(comm),
        device_(device),
        // From torch's pool, never destroyed (as PyTorch's NCCL process group does): the caching allocator may
        // still hold uses of it for outputs that alias receive buffers and outlive this communicator.
        comm_stream_(c10::cuda::getStreamFromPool(/*isHighPriority=*/false, static_cast<c10::DeviceIndex>(device))),
        compute_ready_(device),
        watchdog_(std::make_unique<NcclWatchdog>(comm, device)) {}

  ~NcclCommunicator() override {
    const c10::cuda::CUDAGuard guard(device_index());
    watchdog_->drain();  // a failed operation never returns here: the watchdog aborts the job
    watchdog_.reset();
    settle(comm_, ncclCommFinalize(comm_), "ncclCommFinalize", describe_operation("finalize"));
    ncclCommDestroy(comm_);
  }

  Backend backend() const override { return Backend::nccl; }

 protected:
  at::Tensor stage(const at::Tensor& input) override {
    const c10::cuda::CUDAGuard guard(device_index());
    return input.to(at::Device(at::kCUDA, device_index())).contiguous();
  }

  bool reduces_natively(c10::ScalarType dtype) const override { return reduction_type(dtype).has_value(); }

  void all_gather_flat(const at::Tensor& send, at::Tensor& recv, const std::vector<int64_t>& counts,
                       const std::vector<int64_t>& displacements) override {
    start_all_gather_flat(send, recv, counts, displacements).wait();
  }

  // The gather proceeds on the communication stream while the compute stream runs on (a sharded model's current
  // block, while the next block's weights arrive); waiting only orders the compute stream's later work after it.
  ExchangeHandle start_all_gather_flat(const at::Tensor& send, at::Tensor& recv, const std::vector<int64_t>& counts,
                                       const std::vector<int64_t>& displacements) override {
    const auto description = describe_operation("all_gather");
    const bool even = std::all_of(counts.begin(), counts.end(), [&](int64_t c) { return c == counts[0]; });
    auto done = run_on_comm_stream({send, recv}, description, [&] {
      if (even) {
        TESSERA_NCCL_ENQUEUE(ncclAllGather(send.data_ptr(), recv.data_ptr(), bytes_of(counts[0], send), ncclUint8,
                                           comm_, comm_stream_),
                             description);
        return;
      }
      // Uneven shards: one broadcast per root, fused into a single NCCL group.
      TESSERA_CHECK_NCCL(ncclGroupStart());
      for (int root = 0; root < size(); ++root) {
        char* destination = byte_pointer(recv, displacements[root]);
        const void* source = root == rank() ? send.data_ptr() : destination;
        TESSERA_NCCL_ENQUEUE(ncclBroadcast(source, destination, bytes_of(counts[root], send), ncclUint8, root, comm_,
                                           comm_stream_),
                             description);
      }
      TESSERA_NCCL_ENQUEUE(ncclGroupEnd(), description);
    });
    return {.wait = [this, done] { compute_waits_for(*done); }, .progress = {}};
  }

  void all_to_all_flat(const at::Tensor& send, const std::vector<int64_t>& send_counts,
                       const std::vector<int64_t>& send_displacements, at::Tensor& recv,
                       const std::vector<int64_t>& recv_counts,
                       const std::vector<int64_t>& recv_displacements) override {
    const auto description = describe_operation("all_to_all");
    run_then_wait({send, recv}, description, [&] {
      TESSERA_CHECK_NCCL(ncclGroupStart());
      for (int peer = 0; peer < size(); ++peer) {
        if (send_counts[peer] > 0) {
          TESSERA_NCCL_ENQUEUE(ncclSend(byte_pointer(send, send_displacements[peer]), bytes_of(send_counts[peer], send),
                                        ncclUint8, peer, comm_, comm_stream_),
                               description);
        }
        if (recv_counts[peer] > 0) {
          TESSERA_NCCL_ENQUEUE(ncclRecv(byte_pointer(recv, recv_displacements[peer]), bytes_of(recv_counts[peer], recv),
                                        ncclUint8, peer, comm_, comm_stream_),
                               description);
        }
      }
      TESSERA_NCCL_ENQUEUE(ncclGroupEnd(), description);
    });
  }

  void all_reduce_flat(at::Tensor& buffer, ReduceOp op) override {
    const auto type = reduction_type(buffer.scalar_type());
    TESSERA_CHECK(type.has_value(), "all_reduce does not support dtype ", buffer.scalar_type());
    const auto description = describe_operation("all_reduce", to_string(op));
    run_then_wait({buffer}, description, [&] {
      TESSERA_NCCL_ENQUEUE(ncclAllReduce(buffer.data_ptr(), buffer.data_ptr(), buffer.numel(), *type,
                                         op == ReduceOp::max ? ncclMax : ncclSum, comm_, comm_stream_),
                           description);
    });
  }

  void broadcast_flat(at::Tensor& buffer, int root) override {
    const auto description = describe_operation("broadcast", "root " + std::to_string(root));
    run_then_wait({buffer}, description, [&] {
      TESSERA_NCCL_ENQUEUE(ncclBroadcast(buffer.data_ptr(), buffer.data_ptr(), bytes_of(buffer.numel(), buffer),
                                         ncclUint8, root, comm_, comm_stream_),
                           description);
    });
  }

  void send_flat(const at::Tensor& buffer, int peer) override {
    const auto description = describe_operation("send", "to rank " + std::to_string(peer));
    run_then_wait({buffer}, description, [&] {
      TESSERA_NCCL_ENQUEUE(
          ncclSend(buffer.data_ptr(), bytes_of(buffer.numel(), buffer), ncclUint8, peer, comm_, comm_stream_),
          description);
    });
  }

  void recv_flat(at::Tensor& buffer, int peer) override {
    const auto description = describe_operation("recv", "from rank " + std::to_string(peer));
    run_then_wait({buffer}, description, [&] {
      TESSERA_NCCL_ENQUEUE(
          ncclRecv(buffer.data_ptr(), bytes_of(buffer.numel(), buffer), ncclUint8, peer, comm_, comm_stream_),
          description);
    });
  }

  ExchangeHandle start_exchange_flat(const at::Tensor& send, at::Tensor& recv, int send_to, int recv_from) override {
    const auto description = describe_operation(
        "exchange", "to rank " + std::to_string(send_to) + ", from rank " + std::to_string(recv_from));
    auto done = run_on_comm_stream({send, recv}, description, [&] {
      TESSERA_CHECK_NCCL(ncclGroupStart());
      TESSERA_NCCL_ENQUEUE(
          ncclSend(send.data_ptr(), bytes_of(send.numel(), send), ncclUint8, send_to, comm_, comm_stream_),
          description);
      TESSERA_NCCL_ENQUEUE(
          ncclRecv(recv.data_ptr(), bytes_of(recv.numel(), recv), ncclUint8, recv_from, comm_, comm_stream_),
          description);
      TESSERA_NCCL_ENQUEUE(ncclGroupEnd(), description);
    });
    // The compute stream runs on (the current hop's attention) while the exchange proceeds on the
    // communication stream; waiting only orders the compute stream's later work after it.
    return {.wait = [this, done] { compute_waits_for(*done); }, .progress = {}};
  }

  void barrier_impl() override {
    const c10::cuda::CUDAGuard guard(device_index());
    at::Tensor token = at::ones({1}, at::TensorOptions().dtype(at::kInt).device(at::kCUDA, device_index()));
    const auto description = describe_operation("barrier");
    run_then_wait({token}, description, [&] {
      TESSERA_NCCL_ENQUEUE(ncclAllReduce(token.data_ptr(), token.data_ptr(), 1, ncclInt32, ncclSum, comm_, comm_stream_),
                           description);
    });
    // A barrier is a host-side promise: wait for it here (the watchdog still bounds the wait).
    watchdog_->drain();
  }

  std::shared_ptr<Communicator> split_impl(int color, int key, const std::string& name, std::vector<int> world_ranks,
                                           int rank) override {
    const c10::cuda::CUDAGuard guard(device_index());
    watchdog_->drain();
    ncclConfig_t config = non_blocking_config();
    ncclComm_t child = nullptr;
    const auto description = describe_operation("split", "into '" + name + "'");
    // Every rank of this communicator takes part in the split; a group of one rank joins no NCCL communicator
    // (it would move nothing) and gets a SingleRankCommunicator instead.
    const bool alone = color >= 0 && world_ranks.size() == 1;
    const ncclResult_t returned =
        ncclCommSplit(comm_, color < 0 || alone ? NCCL_SPLIT_NOCOLOR : color, key, &child, &config);
    // The new communicator reports the split's progress; a rank that joins none has only the parent.
    settle(child != nullptr ? child : comm_, returned, "ncclCommSplit", description);
    if (alone) {
      return std::make_shared<SingleRankCommunicator>(name, world_ranks.at(0), Backend::nccl,
                                                      c10::Device(c10::kCUDA, device_index()));
    }
    if (child == nullptr) return nullptr;
    return std::make_shared<NcclCommunicator>(child, name, std::move(world_ranks), rank, device_);
  }

 private:
  c10::DeviceIndex device_index() const { return static_cast<c10::DeviceIndex>(device_); }

  cudaStream_t compute_stream() const { return c10::cuda::getCurrentCUDAStream(device_index()).stream(); }

  // Enqueues NCCL work on the communication stream after everything the compute stream has queued so far
  // (the inputs' producers), and returns the event that marks its completion. The host does not wait.
  std::shared_ptr<CudaEvent> run_on_comm_stream(std::initializer_list<at::Tensor> buffers,
                                                const OperationDescription& description,
                                                const std::function<void()>& enqueue) {
    const c10::cuda::CUDAGuard guard(device_index());
    TESSERA_CHECK_CUDA(cudaEventRecord(compute_ready_.handle, compute_stream()));
    TESSERA_CHECK_CUDA(cudaStreamWaitEvent(comm_stream_, compute_ready_.handle, 0));
    // The allocator must not hand these buffers to the compute stream before the communication used them.
    for (const at::Tensor& buffer : buffers) {
      if (buffer.defined() && buffer.is_cuda()) {
        c10::cuda::CUDACachingAllocator::recordStream(buffer.storage().data_ptr(), comm_stream_);
      }
    }
    enqueue();
    return watchdog_->watch(comm_stream_, description);
  }

  // Blocking in stream order only: the compute stream's next work runs after the operation.
  void run_then_wait(std::initializer_list<at::Tensor> buffers, const OperationDescription& description,
                     const std::function<void()>& enqueue) {
    compute_waits_for(*run_on_comm_stream(buffers, description, enqueue));
  }

  void compute_waits_for(const CudaEvent& done) {
    const c10::cuda::CUDAGuard guard(device_index());
    TESSERA_CHECK_CUDA(cudaStreamWaitEvent(compute_stream(), done.handle, 0));
  }

  ncclComm_t comm_;
  int device_;
  c10::cuda::CUDAStream comm_stream_;
  CudaEvent compute_ready_;  // re-recorded per operation: a stream wait captures its state at the call
  std::unique_ptr<NcclWatchdog> watchdog_;
};

}  // namespace

bool nccl_built() { return true; }

std::string nccl_version() {
  int version = 0;
  TESSERA_CHECK_NCCL(ncclGetVersion(&version));
  return detail::concat(version / 10000, ".", (version / 100) % 100, ".", version % 100);
}

std::string cuda_device_bus_id(int device) {
  char bus_id[64] = {};
  TESSERA_CHECK_CUDA(cudaDeviceGetPCIBusId(bus_id, sizeof(bus_id), device));
  return bus_id;
}

int64_t cuda_free_bytes(int device) {
  const c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device));
  size_t free = 0, total = 0;
  TESSERA_CHECK_CUDA(cudaMemGetInfo(&free, &total));
  return static_cast<int64_t>(free);
}

std::shared_ptr<Communicator> make_nccl_communicator(MpiCommunicator& bootstrap, int device) {
  TESSERA_CHECK(device >= 0, "NCCL needs a CUDA device for this rank, got device index ", device);
  const c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device));
  ncclUniqueId id;
  std::memset(&id, 0, sizeof(id));
  if (bootstrap.rank() == 0) TESSERA_CHECK_NCCL(ncclGetUniqueId(&id));
  at::Tensor id_bytes = at::from_blob(&id, {static_cast<int64_t>(sizeof(id))}, at::kByte).clone();
  id_bytes = bootstrap.broadcast(id_bytes, 0);
  std::memcpy(&id, id_bytes.data_ptr(), sizeof(id));
  ncclConfig_t config = non_blocking_config();
  ncclComm_t comm = nullptr;
  const ncclResult_t returned = ncclCommInitRankConfig(&comm, bootstrap.size(), id, bootstrap.rank(), &config);
  OperationDescription description{.operation = "NCCL initialisation",
                                   .group = bootstrap.name(),
                                   .world_ranks = bootstrap.world_ranks(),
                                   .group_rank = bootstrap.rank(),
                                   .detail = {}};
  settle(comm, returned, "ncclCommInitRankConfig", description);
  return std::make_shared<NcclCommunicator>(comm, bootstrap.name(), bootstrap.world_ranks(), bootstrap.rank(), device);
}

}  // namespace tessera
