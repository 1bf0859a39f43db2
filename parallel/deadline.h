#pragma once
// Deadlines for collectives: no communication call may wait forever. A wait that outlives
// TESSERA_COMM_TIMEOUT_S (default 600 s) aborts the whole job with one message naming the operation,
// the group and its ranks, so a missing or dead peer never turns into a silent hang.
#include <functional>
#include <string>
#include <vector>

namespace tessera {

struct OperationDescription {
  std::string operation;         // "all_reduce", "send", ...
  std::string group;             // communicator name, e.g. "world" or "ulysses"
  std::vector<int> world_ranks;  // members of the group, as ranks of the world
  int group_rank = 0;            // this process's rank in the group
  std::string detail;            // optional: "peer 3", "root 0"
};

// The deadline in seconds, read once from TESSERA_COMM_TIMEOUT_S.
double communication_timeout_seconds();

// While alive, waits on this thread are bounded by `seconds` instead of TESSERA_COMM_TIMEOUT_S: for the rare
// wait that legitimately lasts as long as a whole piece of work (a batch's groups meeting between jobs).
class ScopedCommunicationTimeout {
 public:
  explicit ScopedCommunicationTimeout(double seconds);
  ~ScopedCommunicationTimeout();
  ScopedCommunicationTimeout(const ScopedCommunicationTimeout&) = delete;
  ScopedCommunicationTimeout& operator=(const ScopedCommunicationTimeout&) = delete;

 private:
  double previous_;
};

// Polls `is_done` (which drives progress) with a back-off until it returns true. When the deadline
// passes, aborts the job (abort_job), with `on_timeout` as its release_peers (a backend aborts its own
// communicator there, after the message is logged).
void wait_with_deadline(const std::function<bool()>& is_done, const OperationDescription& description,
                        const std::function<void()>& on_timeout = {});

// The deadline in force on this thread (a ScopedCommunicationTimeout's, else TESSERA_COMM_TIMEOUT_S): what a
// backend that watches its operations from another thread captures when it starts one.
double deadline_seconds();

// The one message of a missed deadline, wherever it is detected (this thread's wait or a backend's watchdog).
std::string deadline_message(const OperationDescription& description, double seconds);
// "all_reduce (sum) on group 'world' (world ranks 0,1)"
std::string describe_operation_in_group(const OperationDescription& description);
int world_rank_of(const OperationDescription& description);

// Logs `message`, then calls `release_peers` (a backend frees peers blocked in its kernels there: ncclCommAbort),
// then terminates every rank of the job. Once per process: the first caller, on any thread, does all of it; a
// later or concurrent caller blocks until the process ends, so one message is logged and a communicator is never
// aborted twice. On the thread that initialised MPI this is MPI_Abort on MPI_COMM_WORLD; on any other thread
// (MPI is initialised MPI_THREAD_FUNNELED) the process exits with `exit_code` without finalising, and the
// launcher ends the other ranks.
[[noreturn]] void abort_job(const std::string& message, int exit_code = 3,
                            const std::function<void()>& release_peers = {});

// True once abort_job has started: a watchdog stops touching its communicator, which is being aborted.
bool job_aborting();

// Marks the calling thread as MPI's (MpiRuntime calls it): abort_job calls MPI_Abort only from there.
void mark_mpi_thread();

std::string describe_group(const std::string& group, const std::vector<int>& world_ranks);

}  // namespace tessera
