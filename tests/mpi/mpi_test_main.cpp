// gtest main for tests that run under mpirun: every rank runs every test; rank 0 prints the report and
// the other ranks print only their failures.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include "common/log.h"
#include "mpi_test_environment.h"
#include "parallel/mpi_communicator.h"
#include "parallel/mpi_runtime.h"

namespace tessera::testing {
namespace {

std::shared_ptr<Communicator> world_communicator;

class FailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit FailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (result.failed()) {
      fprintf(stderr, "[rank %d] %s:%d: failure\n%s\n", rank_, result.file_name() ? result.file_name() : "?",
              result.line_number(), result.summary());
    }
  }

 private:
  int rank_;
};

}  // namespace

Communicator& world() { return *world_communicator; }

std::shared_ptr<Communicator> shared_world() { return std::shared_ptr<Communicator>(&world(), [](Communicator*) {}); }

std::vector<ParallelConfig> strategies(int n) {
  std::vector<ParallelConfig> configs{{n, 1, 1}, {1, n, 1}};
  if (n >= 4 && n % 2 == 0) configs.push_back({2, n / 2, 1});
  return configs;
}

std::vector<std::string> gather_decisions(const std::string& decisions) {
  const at::Tensor mine = at::tensor(std::vector<int64_t>(decisions.begin(), decisions.end()), at::kLong);
  const at::Tensor all = world().all_gather(mine.unsqueeze(0), 0);
  std::vector<std::string> result;
  for (int64_t r = 0; r < all.size(0); ++r) {
    std::string text;
    for (int64_t i = 0; i < all.size(1); ++i) text += static_cast<char>(all[r][i].item<int64_t>());
    result.push_back(text);
  }
  return result;
}

at::Tensor rank_tensor(int rank, at::IntArrayRef shape, c10::ScalarType dtype, int salt) {
  int64_t numel = 1;
  for (auto size : shape) numel *= size;
  auto values = (at::arange(numel, at::kLong) * 7 + rank * 13 + salt * 5).remainder(61) - 30;
  return values.reshape(shape).to(dtype);
}

}  // namespace tessera::testing

int main(int argc, char** argv) {
#ifdef TESSERA_MPI_TEST_THREAD_MULTIPLE
  tessera::MpiRuntime runtime(&argc, &argv, tessera::MpiThreading::multiple);  // a test whose threads call MPI
#else
  tessera::MpiRuntime runtime(&argc, &argv);
#endif
  tessera::log::configure(runtime.world_rank(), runtime.world_size());
  ::testing::InitGoogleTest(&argc, argv);
  at::set_num_threads(1);
  tessera::testing::world_communicator = tessera::MpiCommunicator::world();
  if (runtime.world_rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new tessera::testing::FailurePrinter(runtime.world_rank()));
  }
  const int status = RUN_ALL_TESTS();
  tessera::testing::world_communicator.reset();
  return status;
}
