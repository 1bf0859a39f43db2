// BatchDealer at 1 to 4 ranks, in groups of 1 and 2 ranks, with work that sleeps instead of generating, rank 0
// listening in a thread and between steps: every job is dealt exactly once, a group's ranks run the same jobs,
// rank 0 records every result while it works, a slow group takes fewer jobs than a fast one whichever group is
// slow, and every rank returns when the jobs run out.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <sstream>
#include <thread>

#include "mpi_test_environment.h"
#include "src/pipelines/batch_dealer.h"

namespace tessera::testing {
namespace {

struct Dealt {
  std::vector<int64_t> mine;        // the jobs this rank's group ran, as this rank saw them
  std::map<int64_t, int> group_of;  // rank 0: every recorded job's group, from the result lines
  int recorded = 0;                 // rank 0: result lines recorded
};

using Listening = BatchDealer::Listening;

std::vector<Listening> listenings() { return {Listening::thread, Listening::between_steps}; }

// Runs `jobs` jobs in groups of `group_size`; a job takes `slow_ms` on group `slow_group`, else `fast_ms`, in 1 ms
// "steps" after each of which the dealer may serve, as `tessera batch` does after its denoising steps (unless
// `serve_in_steps` is false: a job with no step, all decode).
Dealt deal(Listening listening, int64_t jobs, int group_size, int slow_group, int slow_ms, int fast_ms,
           bool serve_in_steps = true) {
  Dealt dealt;
  BatchDealer dealer(
      jobs, group_size,
      [&](const std::string& lines) {
        std::istringstream stream(lines);
        int64_t job = 0;
        int group = 0;
        while (stream >> job >> group) {
          EXPECT_EQ(dealt.group_of.count(job), 0u) << "job " << job << " recorded twice";
          dealt.group_of[job] = group;
          ++dealt.recorded;
        }
      },
      /*patience_seconds=*/60, listening);
  std::string finished;
  while (const auto job = dealer.next(finished)) {
    EXPECT_GE(*job, 0);
    EXPECT_LT(*job, jobs);
    dealt.mine.push_back(*job);
    const int ms = dealer.group() == slow_group ? slow_ms : fast_ms;
    for (int step = 0; step < ms; ++step) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      if (serve_in_steps) dealer.serve();
    }
    finished = std::to_string(*job) + " " + std::to_string(dealer.group()) + "\n";
  }
  return dealt;
}

// Every rank's list of jobs, padded with -1 to one length.
std::vector<std::vector<int64_t>> gather_lists(const std::vector<int64_t>& mine, int64_t jobs) {
  std::vector<int64_t> padded(mine);
  padded.resize(static_cast<size_t>(jobs), -1);
  const at::Tensor all = world().all_gather(at::tensor(padded, at::kLong).unsqueeze(0), 0);
  std::vector<std::vector<int64_t>> lists;
  for (int64_t r = 0; r < all.size(0); ++r) {
    std::vector<int64_t> list;
    for (int64_t i = 0; i < jobs && all[r][i].item<int64_t>() >= 0; ++i) list.push_back(all[r][i].item<int64_t>());
    lists.push_back(std::move(list));
  }
  return lists;
}

std::vector<int> group_sizes() {
  std::vector<int> sizes{1};
  if (world().size() % 2 == 0) sizes.push_back(2);
  return sizes;
}

TEST(BatchDealer, DealsEveryJobOnceAndAGroupsRanksRunTheSameJobs) {
  const int64_t jobs = 13;
  for (const Listening listening : listenings()) {
    for (const int group_size : group_sizes()) {
      SCOPED_TRACE(::testing::Message() << "groups of " << group_size << ", listening "
                                        << (listening == Listening::thread ? "in a thread" : "between steps"));
      const Dealt dealt = deal(listening, jobs, group_size, /*slow_group=*/-1, 0, 2);
      const auto lists = gather_lists(dealt.mine, jobs);
      std::vector<int> runs(jobs, 0);
      for (int r = 0; r < world().size(); ++r) {
        const int leader = r / group_size * group_size;
        EXPECT_EQ(lists[r], lists[leader]) << "rank " << r << " ran other jobs than its group's leader " << leader;
        if (r == leader) {
          for (const int64_t job : lists[r]) ++runs[job];
        }
      }
      for (int64_t job = 0; job < jobs; ++job) EXPECT_EQ(runs[job], 1) << "job " << job;
      if (world().rank() == 0) {
        EXPECT_EQ(dealt.recorded, jobs);
        for (const auto& [job, group] : dealt.group_of) {
          const auto& list = lists[group * group_size];
          EXPECT_NE(std::find(list.begin(), list.end(), job), list.end())
              << "job " << job << " recorded for group " << group << ", which did not run it";
        }
      }
    }
  }
}

// The slow group runs about one job in the time a fast one runs 20: with rounds each group would run an equal
// share; dealt dynamically the slow group runs at most a few. Rank 0's group slow (it deals between its steps)
// and another group slow.
TEST(BatchDealer, AFreeGroupTakesTheNextJob) {
  const int size = world().size();
  if (size < 2) GTEST_SKIP() << "needs two groups";
  const int64_t jobs = 24;
  for (const Listening listening : listenings()) {
    for (const int slow_group : {0, 1}) {
      SCOPED_TRACE(::testing::Message() << "slow group " << slow_group << ", listening "
                                        << (listening == Listening::thread ? "in a thread" : "between steps"));
      const Dealt dealt = deal(listening, jobs, 1, slow_group, /*slow_ms=*/400, /*fast_ms=*/20);
      const auto lists = gather_lists(dealt.mine, jobs);
      const auto slow_jobs = static_cast<int64_t>(lists[slow_group].size());
      EXPECT_GE(slow_jobs, 1);
      EXPECT_LE(slow_jobs, 3) << "the slow group ran " << slow_jobs << " of " << jobs << " jobs";
      EXPECT_LT(slow_jobs, jobs / size) << "no fewer than its share in rounds";
    }
  }
}

// Rank 0 listening in a thread answers while its main thread never stops to serve (a text encoder, a decode):
// its group, slow, still runs only a few jobs. Listening between steps, the other groups would get one job each
// per job of rank 0's: 6 of 24 each at 4 ranks, 12 at 2.
TEST(BatchDealer, AThreadAnswersWhileRankZeroComputesWithoutSteps) {
  const int size = world().size();
  if (size < 2) GTEST_SKIP() << "needs two groups";
  const int64_t jobs = 24;
  const Dealt dealt = deal(Listening::thread, jobs, 1, /*slow_group=*/0, /*slow_ms=*/400, /*fast_ms=*/20,
                           /*serve_in_steps=*/false);
  const auto lists = gather_lists(dealt.mine, jobs);
  EXPECT_LE(lists[0].size(), 3u) << "rank 0's group ran " << lists[0].size() << " of " << jobs << " jobs";
}

TEST(BatchDealer, NoJobsEndsEveryRank) {
  for (const Listening listening : listenings()) {
    for (const int group_size : group_sizes()) {
      const Dealt dealt = deal(listening, 0, group_size, -1, 0, 0);
      EXPECT_TRUE(dealt.mine.empty());
      EXPECT_EQ(dealt.recorded, 0);
    }
  }
}

}  // namespace
}  // namespace tessera::testing
