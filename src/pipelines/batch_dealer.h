#pragma once
// Dynamic dealing of a batch's jobs to its data-parallel groups: a group takes the next job the moment it is free,
// so no group idles while another finishes a longer job (dealing in rounds keeps the groups in step).
//
// World rank 0 deals, and stays the single writer of the results: another group's leader sends it the result
// lines of the job it finished with its request for the next. Rank 0 computes in group 0 too, so it listens while
// it computes: from a thread of its own when MPI lets any thread call it (MPI_THREAD_MULTIPLE, which `tessera
// batch` asks for), answering within a millisecond whatever its main thread is doing (a step, the text encoder,
// the decode); else between its own steps (serve) and its jobs, a request then waiting up to a step. Jobs are
// indices into a list every rank holds alike; inside a group the leader learns its job and broadcasts it, so the
// group's ranks always run the same job.
//
// The messages travel on a private duplicate of MPI_COMM_WORLD over host memory, whatever the compute backend.
// Every wait is bounded by `patience` (as long as a job may take: a request can wait for one of rank 0's steps,
// and the end of the batch for the longest job), past which abort_job ends every rank.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace tessera {

class Communicator;
class MpiCommunicator;

class BatchDealer {
 public:
  // Called on world rank 0 alone with the result lines of every finished job (its own group's included), as
  // they arrive, one call at a time (from the listening thread too): where the single writer appends them.
  using Record = std::function<void(const std::string& lines)>;

  // How rank 0 hears the other groups: from a thread of its own (MpiRuntime::any_thread_may_call() must hold),
  // or when its main thread calls serve() or next().
  enum class Listening { thread, between_steps };

  // Collective over the world: every rank constructs it (rank 0's listening thread starts here). Groups are
  // consecutive runs of `group_size` ranks (the world size is a multiple of it); a group's leader is its first
  // rank. `jobs` is the number of jobs to deal.
  BatchDealer(int64_t jobs, int group_size, Record record, double patience_seconds, Listening listening);
  ~BatchDealer();
  BatchDealer(const BatchDealer&) = delete;
  BatchDealer& operator=(const BatchDealer&) = delete;

  // The next job of this rank's group (an index below `jobs`, each dealt once in the world), or nullopt when none
  // is left; every rank of the group gets the same answer. A group leader passes the result lines of the job its
  // group just finished ("" before the first); other ranks' lines are ignored. On world rank 0, nullopt comes only
  // once every other group has been told that none is left, so every rank may return after it.
  std::optional<int64_t> next(const std::string& finished_lines);

  // World rank 0 listening between steps: answers the requests that have already arrived and returns without
  // waiting for more. Otherwise it does nothing.
  void serve();

  int group() const { return group_; }
  int groups() const { return groups_; }

 private:
  bool dealer() const;
  bool leader() const;
  int64_t record_and_take(const std::string& lines);  // rank 0: records `lines`, then the next undealt job or -1
  bool answer_one(bool wait);  // rank 0: answers one request; false when none came (wait: none yet)
  void listen();               // rank 0's thread: answers until every other group is told none is left
  int64_t request(const std::string& finished_lines);  // another group's leader: its next job from rank 0
  int64_t share_in_group(int64_t job);                 // the leader's job, on every rank of the group

  int64_t jobs_;
  int group_size_, groups_, group_;
  Record record_;
  double patience_;
  Listening listening_;
  std::shared_ptr<MpiCommunicator> world_;    // the dealing messages
  std::shared_ptr<Communicator> group_comm_;  // this rank's group, on MPI: the leader's broadcast
  std::mutex books_;               // rank 0: the two fields below and record_, shared with the listening thread
  int64_t next_job_ = 0;           // the first job not dealt yet
  int groups_running_ = 0;         // other groups not yet told that no job is left (the listener's alone)
  std::thread listener_;           // rank 0 listening in a thread
  std::atomic<bool> stop_{false};  // the dealer is destroyed early (an error on rank 0): the listener returns
};

}  // namespace tessera
