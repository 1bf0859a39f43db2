#include "parallel/deadline.h"

#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "common/join.h"
#include "common/env.h"
#include "common/log.h"
#include "parallel/wait_backoff.h"

namespace tessera {

double communication_timeout_seconds() {
  static const double seconds = env::seconds("TESSERA_COMM_TIMEOUT_S", 600.0);
  return seconds;
}

namespace {
thread_local double scoped_timeout_seconds = 0;  // 0: none in scope
double current_timeout_seconds() {
  return scoped_timeout_seconds > 0 ? scoped_timeout_seconds : communication_timeout_seconds();
}
}  // namespace

ScopedCommunicationTimeout::ScopedCommunicationTimeout(double seconds) : previous_(scoped_timeout_seconds) {
  scoped_timeout_seconds = seconds;
}

ScopedCommunicationTimeout::~ScopedCommunicationTimeout() { scoped_timeout_seconds = previous_; }

std::string describe_group(const std::string& group, const std::vector<int>& world_ranks) {
  const std::string ranks = join(world_ranks, ",");
  return "group '" + group + "' (world ranks " + ranks + ")";
}

namespace {
std::atomic<int64_t> waited_nanoseconds{0};
}  // namespace

double communication_wait_seconds() { return 1e-9 * static_cast<double>(waited_nanoseconds.load()); }

WaitBackoff wait_backoff() {
  static const WaitBackoff backoff{
      .spin = std::chrono::duration<double>(env::seconds("TESSERA_WAIT_SPIN_S", 0.0002)),
      .longest_nap = std::chrono::duration<double>(env::seconds("TESSERA_WAIT_NAP_S", 0.0002))};
  return backoff;
}

bool poll_through_transfer(const std::function<bool()>& is_done, int64_t bytes) {
  using Clock = std::chrono::steady_clock;
  static const double seconds_per_gigabyte = env::seconds("TESSERA_WAIT_TRANSFER_S_PER_GB", 1.0);
  const auto budget = std::chrono::duration<double>(static_cast<double>(bytes) * 1e-9 * seconds_per_gigabyte);
  const auto start = Clock::now();
  bool done = is_done();
  while (!done && Clock::now() - start < budget) {
    std::this_thread::yield();
    done = is_done();
  }
  waited_nanoseconds += std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
  return done;
}

void wait_with_deadline(const std::function<bool()>& is_done, const OperationDescription& description,
                        const std::function<void()>& on_timeout) {
  using Clock = std::chrono::steady_clock;
  if (is_done()) return;
  const auto timeout = std::chrono::duration<double>(current_timeout_seconds());
  const auto start = Clock::now();
  const WaitBackoff backoff = wait_backoff();
  // Non-blocking MPI transfers advance only while polled, and once both sides poll most waits end within
  // microseconds: poll continuously first. A wait that lasts is a peer still computing: nap, from 10 us doubling
  // up to the longest nap, so the core goes to that peer (or another job) on a shared or oversubscribed machine.
  // The longest nap bounds what napping adds once the peer arrives; a nap's wake-up still drains the transfer's
  // queued fragments, so a transfer in progress keeps moving.
  std::chrono::duration<double> nap = std::chrono::microseconds(10);
  const auto count_wait = [&] {
    waited_nanoseconds += std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
  };
  while (!is_done()) {
    const auto waited = Clock::now() - start;
    if (waited > timeout) break;
    if (waited < backoff.spin) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(nap);
      nap = std::min<std::chrono::duration<double>>(2 * nap, backoff.longest_nap);
    }
  }
  count_wait();
  if (is_done()) return;
  abort_job(deadline_message(description, current_timeout_seconds()), 3, on_timeout);
}

double deadline_seconds() { return current_timeout_seconds(); }

std::string deadline_message(const OperationDescription& description, double seconds) {
  return detail::concat("communication deadline exceeded: ", describe_operation_in_group(description),
                        " did not complete within ", seconds, " s on world rank ", world_rank_of(description),
                        "; a peer never arrived or died. Aborting every rank. "
                        "If the work between collectives is legitimately longer, raise TESSERA_COMM_TIMEOUT_S.");
}

std::string describe_operation_in_group(const OperationDescription& description) {
  return description.operation + (description.detail.empty() ? "" : " (" + description.detail + ")") + " on " +
         describe_group(description.group, description.world_ranks);
}

int world_rank_of(const OperationDescription& description) {
  return description.world_ranks.empty() ? -1 : description.world_ranks.at(description.group_rank);
}

namespace {
std::atomic<bool> job_is_aborting{false};
std::atomic<std::thread::id> mpi_thread{};
}  // namespace

bool job_aborting() { return job_is_aborting.load(); }

void mark_mpi_thread() { mpi_thread = std::this_thread::get_id(); }

void abort_job(const std::string& message, int exit_code, const std::function<void()>& release_peers) {
  if (job_is_aborting.exchange(true)) {
    // Another thread is ending the process; it must not return into code that assumed success.
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  // The message first: releasing peers may itself block or crash, and the user must still learn why.
  log::flush();
  log::fatal(message);
  std::fflush(stdout);
  std::fflush(stderr);
  if (release_peers) release_peers();
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized && std::this_thread::get_id() == mpi_thread.load()) {
    MPI_Abort(MPI_COMM_WORLD, exit_code);
  }
  std::_Exit(exit_code);
}

}  // namespace tessera
