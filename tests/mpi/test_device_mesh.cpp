#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "common/check.h"
#include "mpi_test_environment.h"
#include "parallel/cfg_parallel.h"
#include "parallel/device_mesh.h"
#include "parallel/parallel_config.h"

namespace tessera::testing {
namespace {

// Sum of world ranks over a group, computed from the coordinate formula alone.
int64_t expected_sum(const ParallelConfig& config, int world_size, bool (*same_group)(const MeshCoordinates&,
                                                                                       const MeshCoordinates&)) {
  const auto mine = mesh_coordinates(config, world().rank());
  int64_t sum = 0;
  for (int r = 0; r < world_size; ++r) {
    if (same_group(mine, mesh_coordinates(config, r))) sum += r;
  }
  return sum;
}

TEST(DeviceMesh, EveryFactorisationOfTheWorldBuildsConsistentGroups) {
  const int n = world().size();
  for (int cfg = 1; cfg <= 2; ++cfg) {
    for (int ring = 1; ring <= n; ++ring) {
      if (n % (cfg * ring) != 0) continue;
      const ParallelConfig config{n / (cfg * ring), ring, cfg};
      SCOPED_TRACE(config.to_string());
      DeviceMesh mesh(shared_world(), config);
      EXPECT_EQ(mesh.ulysses().size(), config.ulysses);
      EXPECT_EQ(mesh.ring().size(), config.ring);
      EXPECT_EQ(mesh.context_parallel().size(), config.context_parallel_degree());
      EXPECT_EQ(mesh.cfg().size(), config.cfg);
      EXPECT_EQ(mesh.ulysses().rank(), mesh.coordinates().ulysses);
      EXPECT_EQ(mesh.ring().rank(), mesh.coordinates().ring);
      const auto rank = at::full({1}, world().rank(), at::kLong);
      auto sum_over = [&](Communicator& group) { return group.all_reduce(rank, ReduceOp::sum).item<int64_t>(); };
      EXPECT_EQ(sum_over(mesh.ulysses()), expected_sum(config, n, [](auto& a, auto& b) {
                  return a.cfg == b.cfg && a.ring == b.ring;
                }));
      EXPECT_EQ(sum_over(mesh.ring()), expected_sum(config, n, [](auto& a, auto& b) {
                  return a.cfg == b.cfg && a.ulysses == b.ulysses;
                }));
      EXPECT_EQ(sum_over(mesh.context_parallel()),
                expected_sum(config, n, [](auto& a, auto& b) { return a.cfg == b.cfg; }));
      EXPECT_EQ(sum_over(mesh.cfg()), expected_sum(config, n, [](auto& a, auto& b) {
                  return a.ring == b.ring && a.ulysses == b.ulysses;
                }));
    }
  }
}

TEST(DeviceMesh, WrongWorldSizeIsAClearErrorOnEveryRank) {
  const int n = world().size();
  try {
    DeviceMesh mesh(shared_world(), ParallelConfig{n + 1, 1, 1});
    FAIL() << "accepted a mesh larger than the world";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("but the job has " + std::to_string(n)), std::string::npos)
        << error.what();
  }
}

// Each CFG branch computes its own prediction; after combine_guidance every rank holds the guided result the
// serial formula gives from both predictions.
TEST(CfgParallel, CombinedPredictionEqualsTheSerialFormula) {
  const int n = world().size();
  if (n % 2 != 0) GTEST_SKIP() << "needs an even number of ranks";
  DeviceMesh mesh(shared_world(), ParallelConfig{n / 2, 1, 2});
  const int cp_position = mesh.context_parallel().rank();
  auto prediction = [&](GuidanceBranch branch) {
    return rank_tensor(cp_position, {2, 5, 3}, at::kFloat, static_cast<int>(branch) + 1);
  };
  const GuidanceBranch mine = guidance_branch(mesh.cfg());
  EXPECT_EQ(static_cast<int>(mine), mesh.coordinates().cfg);
  const at::Tensor guided = combine_guidance(mesh.cfg(), prediction(mine), 5.0);
  const at::Tensor expected = classifier_free_guidance(prediction(GuidanceBranch::conditional),
                                                       prediction(GuidanceBranch::unconditional), 5.0);
  EXPECT_TRUE(at::equal(guided, expected));
  for (Communicator* group : {&world(), &mesh.context_parallel()}) {
    if (group->size() != 2) {
      EXPECT_THROW(guidance_branch(*group), Error);
    }
  }
}

}  // namespace
}  // namespace tessera::testing
