// Context parallelism on the Wan parity fixtures: at every world size and strategy, the output equals the
// single-rank output and diffusers' reference; disable_parallelism gives back the single-rank model exactly.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include "../parity/parity_check.h"
#include "common/check.h"
#include "mpi_test_environment.h"
#include "parallel/context_parallel.h"
#include "parallel/distributed_attention.h"
#include "src/io/safetensors.h"
#include "parallel/shard_sizes.h"
#include "src/models/load_model.h"
#include "src/models/wan/wan_transformer.h"
#include "tests/relative_error.h"

namespace tessera::testing {
namespace {

class ContextParallelWan : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string dir = std::string(TESSERA_FIXTURES_DIR) + "/wan/" + GetParam();
    model_ = load_model(dir, at::kFloat, c10::Device(c10::kCPU));
    const io::SafetensorsFile inputs(dir + "/inputs.safetensors");
    args_ = {{"hidden_states", inputs.load("hidden_states")},
             {"timestep", inputs.load("timestep")},
             {"encoder_hidden_states", inputs.load("encoder_hidden_states")}};
    expected_ = io::SafetensorsFile(dir + "/expected.safetensors").load("sample");
  }
  at::Tensor run() { return (*model_)(args_).at(0); }

  c10::InferenceMode inference_;
  std::shared_ptr<Model> model_;
  Args args_;
  at::Tensor expected_;
};

TEST_P(ContextParallelWan, EveryStrategyMatchesSingleRankAndDiffusers) {
  const at::Tensor single_rank = run();
  ASSERT_TRUE(close_relative_to_scale(single_rank, expected_));
  for (const auto& config : strategies(world().size())) {
    SCOPED_TRACE(config.to_string());
    auto mesh = std::make_shared<DeviceMesh>(shared_world(), config);
    enable_parallelism(*model_, model_->context_parallel_plan(), mesh);
    EXPECT_EQ(parallelism_enabled(*model_), config.context_parallel_degree() > 1);
    const at::Tensor parallel = run();
    EXPECT_TRUE(close_relative_to_scale(parallel, single_rank));
    EXPECT_TRUE(close_relative_to_scale(parallel, expected_));
    disable_parallelism(*model_);
    EXPECT_FALSE(parallelism_enabled(*model_));
    EXPECT_TRUE(at::equal(run(), single_rank)) << "disable_parallelism did not restore the single-rank model";
  }
}

TEST_P(ContextParallelWan, RefusesToEnableTwice) {
  if (world().size() < 2) GTEST_SKIP() << "needs two ranks";
  auto mesh = std::make_shared<DeviceMesh>(shared_world(), ParallelConfig{world().size(), 1, 1});
  enable_parallelism(*model_, model_->context_parallel_plan(), mesh);
  EXPECT_THROW(enable_parallelism(*model_, model_->context_parallel_plan(), mesh), Error);
  disable_parallelism(*model_);
}

// Bytes each rank sends per forward, as measured by the communicators, against the strategy's formula:
// Ulysses sends the q, k, v heads it does not keep and the sequence rows of the output it does not keep;
// Ring sends its padded k and v to the next rank once per hop, size - 1 hops, every self-attention layer.
TEST(ContextParallelStats, BytesPerForwardMatchTheFormula) {
  const int n = world().size();
  if (n < 2) GTEST_SKIP() << "needs two ranks";
  const std::string dir = std::string(TESSERA_FIXTURES_DIR) + "/wan/odd_tokens";
  c10::InferenceMode inference;
  auto model = load_model(dir, at::kFloat, c10::Device(c10::kCPU));
  const auto& config = dynamic_cast<const WanTransformer3DModel&>(*model).config();
  const io::SafetensorsFile inputs(dir + "/inputs.safetensors");
  const Args args{{"hidden_states", inputs.load("hidden_states")},
                  {"timestep", inputs.load("timestep")},
                  {"encoder_hidden_states", inputs.load("encoder_hidden_states")}};
  const int64_t batch = 1, tokens = 45, heads = config.num_attention_heads, head_dim = config.attention_head_dim;
  const int64_t layers = config.num_layers, element = 4;
  const auto sequence = shard_sizes(tokens, n);
  const int64_t local = sequence[world().rank()];
  for (const auto& parallel : {ParallelConfig{n, 1, 1}, ParallelConfig{1, n, 1}}) {
    SCOPED_TRACE(parallel.to_string());
    auto mesh = std::make_shared<DeviceMesh>(shared_world(), parallel);
    enable_parallelism(*model, model->context_parallel_plan(), mesh);
    reset_context_parallel_stats(*mesh);
    (*model)(args);
    const auto stats = context_parallel_stats(*mesh);
    if (parallel.ulysses > 1) {
      const int64_t kept_heads = shard_sizes(heads, n)[world().rank()];
      const int64_t qkv = 3 * batch * local * (heads - kept_heads) * head_dim;
      const int64_t output = batch * (tokens - local) * kept_heads * head_dim;
      EXPECT_EQ(stats.at("all_to_all").bytes_sent, layers * (qkv + output) * element);
      EXPECT_EQ(stats.at("all_to_all").calls, 2 * layers);
    } else {
      const int64_t padded_kv = 2 * batch * sequence[0] * heads * head_dim;
      EXPECT_EQ(stats.at("exchange").bytes_sent, layers * (n - 1) * padded_kv * element);
      EXPECT_EQ(stats.count("all_to_all"), 0u);
    }
    disable_parallelism(*model);
  }
}

// Ulysses and Ring on hand-cut shards, every other one empty (an idle rank, as with more ranks than tokens), with
// every rank's lengths given (as context parallelism passes them from its plan's splits) or exchanged: each rank's
// rows equal single-rank attention's, the log-sum-exp too.
TEST(DistributedAttention, EmptyShardsWithGivenOrExchangedLengths) {
  const int n = world().size();
  if (n < 2) GTEST_SKIP() << "needs two ranks";
  std::vector<int64_t> lengths(n);
  for (int r = 0; r < n; ++r) lengths[r] = r % 2 == 1 ? 0 : r + 2;
  const auto offsets = exclusive_prefix_sum(lengths);
  const int64_t total = offsets.back() + lengths.back(), mine = lengths[world().rank()];
  at::manual_seed(11);  // the same full tensors on every rank
  const at::Tensor q = at::randn({2, total, 3, 8}), k = at::randn_like(q), v = at::randn_like(q);
  AttentionOptions options;
  options.need_lse = true;
  const AttentionResult whole = local_attention(q, k, v, options);
  auto shard = [&](const at::Tensor& t, int64_t dim) { return t.narrow(dim, offsets[world().rank()], mine); };
  for (const bool given : {true, false}) {
    SCOPED_TRACE(given ? "lengths given" : "lengths exchanged");
    const std::vector<int64_t> known = given ? lengths : std::vector<int64_t>{};
    const AttentionResult ulysses =
        ulysses_attention(world(), shard(q, 1), shard(k, 1), shard(v, 1), options, local_attention, known);
    const AttentionResult ring = ring_attention(world(), shard(q, 1), shard(k, 1), shard(v, 1), options, known);
    for (const AttentionResult* result : {&ulysses, &ring}) {
      ASSERT_EQ(result->output.sizes(), shard(whole.output, 1).sizes());
      ASSERT_EQ(result->lse.sizes(), shard(whole.lse, 2).sizes());
      if (mine == 0) continue;
      EXPECT_LT(relative_error(result->output, shard(whole.output, 1)), 1e-5);
      EXPECT_LT(relative_error(result->lse, shard(whole.lse, 2)), 1e-5);
    }
  }
}

// Ulysses unpacks the heads it attends to head-major, so that the CPU attention kernel, which wants each head's
// rows packed, copies nothing more (kernels/attention.cpp); with uneven heads too.
TEST(DistributedAttention, UlyssesHandsItsInnerAttentionPackedHeads) {
  const int n = world().size();
  if (n < 2) GTEST_SKIP() << "needs two ranks";
  at::manual_seed(12);
  const at::Tensor q = at::randn({2, 5, 2 * n + 1, 8}), k = at::randn_like(q), v = at::randn_like(q);
  int calls = 0;
  bool packed = true;
  const AttentionImplementation inner = [&](const at::Tensor& inner_q, const at::Tensor& inner_k,
                                            const at::Tensor& inner_v, const AttentionOptions& inner_options) {
    ++calls;
    for (const at::Tensor* t : {&inner_q, &inner_k, &inner_v}) packed = packed && t->transpose(1, 2).is_contiguous();
    return local_attention(inner_q, inner_k, inner_v, inner_options);
  };
  ulysses_attention(world(), q, k, v, AttentionOptions{}, inner, {});
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(packed);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ContextParallelWan,
                         ::testing::Values("odd_tokens", "uneven_rope", "temporal_patch", "per_token_timestep"));

}  // namespace
}  // namespace tessera::testing
