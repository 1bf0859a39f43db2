#pragma once
// Watches a NCCL communicator's operations from a thread of its own, so that the host never blocks per
// collective and still no operation can hang: an operation whose completion event has not fired within the
// deadline, or an asynchronous NCCL error, aborts the job with the one message and then the communicator
// (ncclCommAbort, never ncclCommDestroy on a failed one), once per process (abort_job).
// The deadline runs from the enqueue, so it includes GPU work queued ahead of the operation on the compute stream
// (one step's work at most, far below the 600 s default of TESSERA_COMM_TIMEOUT_S).
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "parallel/deadline.h"

namespace tessera {

// A CUDA event from the watchdog's pool. Shared: the pool re-records an event only once it has fired and no
// caller still holds it (a started exchange does until it is waited for).
struct CudaEvent {
  explicit CudaEvent(int device);
  ~CudaEvent();
  CudaEvent(const CudaEvent&) = delete;
  CudaEvent& operator=(const CudaEvent&) = delete;
  cudaEvent_t handle = nullptr;
};

class NcclWatchdog {
 public:
  NcclWatchdog(ncclComm_t comm, int device);
  ~NcclWatchdog();  // stops watching; the communicator's owner finalises or has aborted it
  NcclWatchdog(const NcclWatchdog&) = delete;
  NcclWatchdog& operator=(const NcclWatchdog&) = delete;

  // Records an event on `stream` after the operation just enqueued there and watches it under this thread's
  // deadline. The returned event is the operation's completion, for cudaStreamWaitEvent.
  std::shared_ptr<CudaEvent> watch(cudaStream_t stream, OperationDescription description);

  // Blocks until every watched operation has completed (the watchdog still enforces the deadline).
  void drain();

  // Aborts the communicator and the job with `message`. Any thread; the first caller wins.
  [[noreturn]] void fail(const std::string& message);

 private:
  struct Watched {
    std::shared_ptr<CudaEvent> event;
    OperationDescription description;
    std::chrono::steady_clock::time_point started;
    double deadline_seconds;
  };
  void run();
  std::shared_ptr<CudaEvent> take_event();

  ncclComm_t comm_;
  int device_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Watched> pending_;  // in stream order: only the oldest needs polling
  std::vector<std::shared_ptr<CudaEvent>> pool_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tessera
