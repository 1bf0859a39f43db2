#include "parallel/nccl_communicator.h"

#include <ATen/ATen.h>
#include <c10/cuda/CUDAStream.h>

#include <cstring>

#include "parallel/nccl_check.h"

namespace tessera {
namespace {

std::optional<ncclDataType_t> reduction_type(c10::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return ncclFloat32;
    case at::kDouble: return ncclFloat64;
    case at::kHalf: return ncclFloat16;
    case at::kBFloat16: return ncclBfloat16;
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

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(ncclComm_t comm, std::string name, std::vector<int> world_ranks, int rank, int device)
      : Communicator(std::move(name), std::move(world_ranks), rank), comm_(comm), device_(device) {}

  ~NcclCommunicator() override {
    if (!aborted_) ncclCommDestroy(comm_);
  }

  Backend backend() const override { return Backend::nccl; }

 protected:
  at::Tensor stage(const at::Tensor& input) override {
    return input.to(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(device_))).contiguous();
  }

  bool reduces_natively(c10::ScalarType dtype) const override { return reduction_type(dtype).has_value(); }

  void all_gather_flat(const at::Tensor& send, at::Tensor& recv, const std::vector<int64_t>& counts,
                       const std::vector<int64_t>& displacements) override {
    const bool even = std::all_of(counts.begin(), counts.end(), [&](int64_t c) { return c == counts[0]; });
    if (even) {
      TESSERA_CHECK_NCCL(ncclAllGather(send.data_ptr(), recv.data_ptr(), bytes_of(counts[0], send), ncclUint8, comm_,
                                       stream()));
    } else {
      // Uneven shards: one broadcast per root, fused into a single NCCL group.
      TESSERA_CHECK_NCCL(ncclGroupStart());
      for (int root = 0; root < size(); ++root) {
        char* destination = byte_pointer(recv, displacements[root]);
        const void* source = root == rank() ? send.data_ptr() : destination;
        TESSERA_CHECK_NCCL(ncclBroadcast(source, destination, bytes_of(counts[root], send), ncclUint8, root, comm_,
                                         stream()));
      }
      TESSERA_CHECK_NCCL(ncclGroupEnd());
    }
    wait_for_stream(describe_operation("all_gather"));
  }

  void all_to_all_flat(const at::Tensor& send, const std::vector<int64_t>& send_counts,
                       const std::vector<int64_t>& send_displacements, at::Tensor& recv,
                       const std::vector<int64_t>& recv_counts,
                       const std::vector<int64_t>& recv_displacements) override {
    TESSERA_CHECK_NCCL(ncclGroupStart());
    for (int peer = 0; peer < size(); ++peer) {
      if (send_counts[peer] > 0) {
        TESSERA_CHECK_NCCL(ncclSend(byte_pointer(send, send_displacements[peer]), bytes_of(send_counts[peer], send),
                                    ncclUint8, peer, comm_, stream()));
      }
      if (recv_counts[peer] > 0) {
        TESSERA_CHECK_NCCL(ncclRecv(byte_pointer(recv, recv_displacements[peer]), bytes_of(recv_counts[peer], recv),
                                    ncclUint8, peer, comm_, stream()));
      }
    }
    TESSERA_CHECK_NCCL(ncclGroupEnd());
    wait_for_stream(describe_operation("all_to_all"));
  }

  void all_reduce_flat(at::Tensor& buffer, ReduceOp op) override {
    const auto type = reduction_type(buffer.scalar_type());
    TESSERA_CHECK(type.has_value(), "all_reduce does not support dtype ", buffer.scalar_type());
    TESSERA_CHECK_NCCL(ncclAllReduce(buffer.data_ptr(), buffer.data_ptr(), buffer.numel(), *type,
                                     op == ReduceOp::max ? ncclMax : ncclSum, comm_, stream()));
    wait_for_stream(describe_operation("all_reduce", to_string(op)));
  }

  void broadcast_flat(at::Tensor& buffer, int root) override {
    TESSERA_CHECK_NCCL(ncclBroadcast(buffer.data_ptr(), buffer.data_ptr(), bytes_of(buffer.numel(), buffer), ncclUint8,
                                     root, comm_, stream()));
    wait_for_stream(describe_operation("broadcast", "root " + std::to_string(root)));
  }

  void send_flat(const at::Tensor& buffer, int peer) override {
    TESSERA_CHECK_NCCL(ncclSend(buffer.data_ptr(), bytes_of(buffer.numel(), buffer), ncclUint8, peer, comm_, stream()));
    wait_for_stream(describe_operation("send", "to rank " + std::to_string(peer)));
  }

  void recv_flat(at::Tensor& buffer, int peer) override {
    TESSERA_CHECK_NCCL(ncclRecv(buffer.data_ptr(), bytes_of(buffer.numel(), buffer), ncclUint8, peer, comm_, stream()));
    wait_for_stream(describe_operation("recv", "from rank " + std::to_string(peer)));
  }

  std::function<void()> start_exchange_flat(const at::Tensor& send, at::Tensor& recv, int send_to,
                                            int recv_from) override {
    TESSERA_CHECK_NCCL(ncclGroupStart());
    TESSERA_CHECK_NCCL(ncclSend(send.data_ptr(), bytes_of(send.numel(), send), ncclUint8, send_to, comm_, stream()));
    TESSERA_CHECK_NCCL(ncclRecv(recv.data_ptr(), bytes_of(recv.numel(), recv), ncclUint8, recv_from, comm_, stream()));
    TESSERA_CHECK_NCCL(ncclGroupEnd());
    auto event = record_event();
    auto description = describe_operation(
        "exchange", "to rank " + std::to_string(send_to) + ", from rank " + std::to_string(recv_from));
    return [this, event, description] { wait_for_event(*event, description); };
  }

  void barrier_impl() override {
    at::Tensor token = at::ones({1}, at::TensorOptions().dtype(at::kInt).device(at::kCUDA, device_));
    TESSERA_CHECK_NCCL(ncclAllReduce(token.data_ptr(), token.data_ptr(), 1, ncclInt32, ncclSum, comm_, stream()));
    wait_for_stream(describe_operation("barrier"));
  }

  std::shared_ptr<Communicator> split_impl(int color, int key, const std::string& name, std::vector<int> world_ranks,
                                           int rank) override {
    ncclComm_t child = nullptr;
    TESSERA_CHECK_NCCL(ncclCommSplit(comm_, color < 0 ? NCCL_SPLIT_NOCOLOR : color, key, &child, nullptr));
    if (child == nullptr) return nullptr;
    return std::make_shared<NcclCommunicator>(child, name, std::move(world_ranks), rank, device_);
  }

 private:
  struct Event {
    cudaEvent_t handle = nullptr;
    ~Event() {
      if (handle != nullptr) cudaEventDestroy(handle);
    }
  };

  cudaStream_t stream() const {
    return c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device_)).stream();
  }

  std::shared_ptr<Event> record_event() {
    auto event = std::make_shared<Event>();
    TESSERA_CHECK_CUDA(cudaEventCreateWithFlags(&event->handle, cudaEventDisableTiming));
    TESSERA_CHECK_CUDA(cudaEventRecord(event->handle, stream()));
    return event;
  }

  // NCCL kernels never time out by themselves: poll the stream's progress and NCCL's async error state.
  void wait_for_event(const Event& event, const OperationDescription& description) {
    wait_with_deadline(
        [&] {
          const cudaError_t status = cudaEventQuery(event.handle);
          if (status == cudaSuccess) return true;
          if (status != cudaErrorNotReady) TESSERA_CHECK_CUDA(status);
          ncclResult_t async_status = ncclSuccess;
          TESSERA_CHECK_NCCL(ncclCommGetAsyncError(comm_, &async_status));
          TESSERA_CHECK_NCCL(async_status);
          return false;
        },
        description,
        [this] {
          ncclCommAbort(comm_);
          aborted_ = true;
        });
  }

  void wait_for_stream(const OperationDescription& description) { wait_for_event(*record_event(), description); }

  ncclComm_t comm_;
  int device_;
  bool aborted_ = false;
};

}  // namespace

bool nccl_built() { return true; }

std::string nccl_version() {
  int version = 0;
  TESSERA_CHECK_NCCL(ncclGetVersion(&version));
  return detail::concat(version / 10000, ".", (version / 100) % 100, ".", version % 100);
}

std::shared_ptr<Communicator> make_nccl_communicator(MpiCommunicator& bootstrap) {
  int device = 0;
  TESSERA_CHECK_CUDA(cudaGetDevice(&device));
  ncclUniqueId id;
  std::memset(&id, 0, sizeof(id));
  if (bootstrap.rank() == 0) TESSERA_CHECK_NCCL(ncclGetUniqueId(&id));
  at::Tensor id_bytes = at::from_blob(&id, {static_cast<int64_t>(sizeof(id))}, at::kByte).clone();
  id_bytes = bootstrap.broadcast(id_bytes, 0);
  std::memcpy(&id, id_bytes.data_ptr(), sizeof(id));
  ncclComm_t comm = nullptr;
  TESSERA_CHECK_NCCL(ncclCommInitRank(&comm, bootstrap.size(), id, bootstrap.rank()));
  return std::make_shared<NcclCommunicator>(comm, bootstrap.name(), bootstrap.world_ranks(), bootstrap.rank(), device);
}

}  // namespace tessera
