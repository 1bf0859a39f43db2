#include "parallel/nccl_watchdog.h"

#include <c10/cuda/CUDAGuard.h>

#include "common/check.h"
#include "common/log.h"
#include "parallel/nccl_check.h"

namespace tessera {

CudaEvent::CudaEvent(int device) {
  const c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device));
  TESSERA_CHECK_CUDA(cudaEventCreateWithFlags(&handle, cudaEventDisableTiming));
}

CudaEvent::~CudaEvent() {
  if (handle != nullptr) cudaEventDestroy(handle);
}

NcclWatchdog::NcclWatchdog(ncclComm_t comm, int device) : comm_(comm), device_(device) {
  thread_ = std::thread([this] { run(); });
}

NcclWatchdog::~NcclWatchdog() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

std::shared_ptr<CudaEvent> NcclWatchdog::take_event() {
  for (auto& event : pool_) {
    // Held only by the pool: nobody waits on it and it is no longer pending, so it has fired.
    if (event.use_count() == 1) return event;
  }
  pool_.push_back(std::make_shared<CudaEvent>(device_));
  return pool_.back();
}

std::shared_ptr<CudaEvent> NcclWatchdog::watch(cudaStream_t stream, OperationDescription description) {
  const double seconds = deadline_seconds();  // the caller's deadline, which may be scoped to its thread
  std::shared_ptr<CudaEvent> event;
  {
    const std::lock_guard lock(mutex_);
    event = take_event();
    TESSERA_CHECK_CUDA(cudaEventRecord(event->handle, stream));
    pending_.push_back({.event = event,
                        .description = std::move(description),
                        .started = std::chrono::steady_clock::now(),
                        .deadline_seconds = seconds});
  }
  changed_.notify_all();
  return event;
}

void NcclWatchdog::drain() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return pending_.empty(); });
}

void NcclWatchdog::fail(const std::string& message) {
  // ncclCommAbort releases peers blocked in this communicator's kernels; abort_job runs it once per process,
  // after the message, whichever thread or communicator fails first.
  abort_job(message, 3, [comm = comm_] { ncclCommAbort(comm); });
}

void NcclWatchdog::run() {
  // CUDA calls from this thread act on the communicator's device, whatever the creator's thread had current.
  const c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_));
  std::unique_lock lock(mutex_);
  while (true) {
    changed_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
    if (stopping_) return;
    if (job_aborting()) {  // the communicator may be mid-abort on another thread: poll it no more
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      lock.lock();
      continue;
    }
    Watched& oldest = pending_.front();
    const cudaError_t status = cudaEventQuery(oldest.event->handle);
    if (status == cudaSuccess) {
      pending_.pop_front();
      if (pending_.empty()) changed_.notify_all();  // wakes drain()
      continue;
    }
    if (status != cudaErrorNotReady) {
      fail(detail::concat("CUDA error while ", describe_operation_in_group(oldest.description), " ran on world rank ",
                          world_rank_of(oldest.description), ": ", cudaGetErrorString(status), ". Aborting every rank."));
    }
    ncclResult_t async_status = ncclSuccess;
    const ncclResult_t query = ncclCommGetAsyncError(comm_, &async_status);
    if (query != ncclSuccess || (async_status != ncclSuccess && async_status != ncclInProgress)) {
      fail(detail::concat("NCCL reported an asynchronous error during ", describe_operation_in_group(oldest.description),
                          " on world rank ", world_rank_of(oldest.description), ": ",
                          ncclGetErrorString(query != ncclSuccess ? query : async_status), " (",
                          ncclGetLastError(comm_), "). Aborting every rank."));
    }
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - oldest.started).count();
    if (waited > oldest.deadline_seconds) fail(deadline_message(oldest.description, oldest.deadline_seconds));
    // Polling without the lock lets callers enqueue meanwhile.
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    lock.lock();
  }
}

}  // namespace tessera
