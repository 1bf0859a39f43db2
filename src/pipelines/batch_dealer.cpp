#include "src/pipelines/batch_dealer.h"

#include <ATen/ATen.h>
#include <mpi.h>

#include <chrono>
#include <vector>

#include "common/check.h"
#include "parallel/deadline.h"
#include "parallel/mpi_check.h"
#include "parallel/mpi_communicator.h"
#include "parallel/mpi_runtime.h"

namespace tessera {
namespace {

// The private communicator carries these two messages alone; the tags only keep their directions apart.
constexpr int kRequestTag = 1;  // leader -> rank 0: the finished job's result lines (bytes), asking for the next
constexpr int kJobTag = 2;      // rank 0 -> leader: the next job's index, or -1 (int64)
constexpr int64_t kNoJob = -1;

}  // namespace

BatchDealer::BatchDealer(int64_t jobs, int group_size, Record record, double patience_seconds, Listening listening)
    : jobs_(jobs), group_size_(group_size), record_(std::move(record)), patience_(patience_seconds),
      listening_(listening), world_(MpiCommunicator::world()) {
  TESSERA_INTERNAL_ASSERT(group_size_ >= 1 && world_->size() % group_size_ == 0, "groups of ", group_size_,
                          " ranks do not tile a world of ", world_->size());
  groups_ = world_->size() / group_size_;
  group_ = world_->rank() / group_size_;
  groups_running_ = groups_ - 1;
  group_comm_ = world_->split(group_, world_->rank(), "batch_group_" + std::to_string(group_));
  if (dealer() && groups_ > 1 && listening_ == Listening::thread) {
    TESSERA_INTERNAL_ASSERT(MpiRuntime::any_thread_may_call(),
                            "a dealer listening in a thread needs MPI initialised with MPI_THREAD_MULTIPLE");
    listener_ = std::thread([this] { listen(); });
  }
}

BatchDealer::~BatchDealer() {
  stop_ = true;  // only when rank 0 leaves early: after the last job the listener has already returned
  if (listener_.joinable()) listener_.join();
}

bool BatchDealer::dealer() const { return world_->rank() == 0; }
bool BatchDealer::leader() const { return group_comm_->rank() == 0; }

int64_t BatchDealer::record_and_take(const std::string& lines) {
  const std::lock_guard<std::mutex> lock(books_);
  if (!lines.empty()) record_(lines);
  return next_job_ < jobs_ ? next_job_++ : kNoJob;
}

std::optional<int64_t> BatchDealer::next(const std::string& finished_lines) {
  int64_t job = kNoJob;
  if (dealer()) {
    serve();  // groups already waiting asked first
    job = record_and_take(finished_lines);
  } else if (leader()) {
    job = request(finished_lines);
  }
  job = share_in_group(job);
  if (job == kNoJob && dealer()) {
    // The other groups still finish their last jobs: their results must reach the writer.
    if (listener_.joinable()) {
      listener_.join();
    } else {
      while (groups_running_ > 0) answer_one(/*wait=*/true);
    }
  }
  if (job == kNoJob) return std::nullopt;
  return job;
}

void BatchDealer::serve() {
  if (!dealer() || listening_ != Listening::between_steps) return;
  while (answer_one(/*wait=*/false)) {
  }
}

void BatchDealer::listen() {
  try {
    while (groups_running_ > 0 && !stop_) answer_one(/*wait=*/true);
  } catch (const std::exception& error) {
    abort_job(detail::concat("tessera batch: dealing jobs failed on world rank 0: ", error.what()), 1);
  }
}

bool BatchDealer::answer_one(bool wait) {
  int found = 0;
  MPI_Message message = MPI_MESSAGE_NULL;
  MPI_Status status;
  // Polled with millisecond sleeps, not wait_with_deadline's spin: the listening thread must leave the core to
  // the computation beside it.
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    TESSERA_CHECK_MPI(MPI_Improbe(MPI_ANY_SOURCE, kRequestTag, world_->handle(), &found, &message, &status));
    if (found != 0) break;
    if (!wait || stop_) return false;
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > patience_) {
      abort_job(detail::concat("batch deadline exceeded: no group asked for a job within ", patience_,
                               " s while ", groups_running_, " group(s) still ran one; a job outlasted "
                               "TESSERA_BATCH_JOB_TIMEOUT_S or a group's leader died. Aborting every rank. If jobs "
                               "are legitimately that long, raise TESSERA_BATCH_JOB_TIMEOUT_S."));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  int bytes = 0;
  TESSERA_CHECK_MPI(MPI_Get_count(&status, MPI_BYTE, &bytes));
  std::string lines(static_cast<size_t>(bytes), '\0');
  // Already arrived (probed), so the receive completes at once; MPI_Mrecv takes exactly the probed message.
  TESSERA_CHECK_MPI(MPI_Mrecv(lines.data(), bytes, MPI_BYTE, &message, MPI_STATUS_IGNORE));
  const int source = status.MPI_SOURCE;
  TESSERA_INTERNAL_ASSERT(source != 0 && source % group_size_ == 0, "a batch request from world rank ", source,
                          ", which leads no group");
  const int64_t job = record_and_take(lines);
  if (job == kNoJob) --groups_running_;
  MPI_Request sent;
  TESSERA_CHECK_MPI(MPI_Isend(&job, 1, MPI_INT64_T, source, kJobTag, world_->handle(), &sent));
  wait_with_deadline(
      [&] {
        int done = 0;
        TESSERA_CHECK_MPI(MPI_Test(&sent, &done, MPI_STATUS_IGNORE));
        return done != 0;
      },
      {"batch job", world_->name(), world_->world_ranks(), 0, detail::concat("to world rank ", source)});
  return true;
}

int64_t BatchDealer::request(const std::string& finished_lines) {
  int64_t job = kNoJob;
  std::vector<MPI_Request> requests(2);
  TESSERA_CHECK_MPI(MPI_Irecv(&job, 1, MPI_INT64_T, 0, kJobTag, world_->handle(), &requests[0]));
  TESSERA_CHECK_MPI(MPI_Isend(finished_lines.data(), static_cast<int>(finished_lines.size()), MPI_BYTE, 0,
                              kRequestTag, world_->handle(), &requests[1]));
  // Rank 0 may answer only after one of its steps, or after its job: as long as a job, not a collective.
  ScopedCommunicationTimeout patience(patience_);
  wait_with_deadline(
      [&] {
        int done = 0;
        TESSERA_CHECK_MPI(MPI_Testall(2, requests.data(), &done, MPI_STATUSES_IGNORE));
        return done != 0;
      },
      {"batch request", world_->name(), world_->world_ranks(), world_->rank(), "to world rank 0"});
  return job;
}

int64_t BatchDealer::share_in_group(int64_t job) {
  if (group_comm_->size() == 1) return job;
  // The other ranks wait here while their leader waits for rank 0.
  ScopedCommunicationTimeout patience(patience_);
  return group_comm_->broadcast(at::full({1}, job, at::kLong), 0).item<int64_t>();
}

}  // namespace tessera
