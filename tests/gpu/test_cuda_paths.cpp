// CUDA paths that one GPU can check, at any world size (ranks share the GPU through the host-staged MPI
// backend): attention at head sizes the kernels do not take natively, the Wan forward in bf16 against fp32
// and in fp32 against diffusers, and Ulysses / Ring / USP on CUDA tensors against one rank. Skips without a GPU.
#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include "../mpi/mpi_test_environment.h"
#include "../parity/parity_check.h"
#include "kernels/attention.h"
#include "parallel/context_parallel.h"
#include "src/io/safetensors.h"
#include "src/models/load_model.h"

namespace tessera::testing {
namespace {

const c10::Device kCuda(c10::kCUDA, 0);

class Cuda : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device visible";
    // fp32 parity needs exact fp32 matmuls (tessera's CLI does the same unless --allow-tf32).
    at::globalContext().setAllowTF32CuBLAS(false);
    at::globalContext().setAllowTF32CuDNN(false);
  }
  c10::InferenceMode inference_;
};

struct AttentionCase {
  int64_t head_dim;
  c10::ScalarType dtype;
};

class CudaAttention : public Cuda, public ::testing::WithParamInterface<AttentionCase> {};

// The fused CUDA kernels (flash, memory-efficient) against the plain-ATen reference, with the log-sum-exp,
// on awkward sequence lengths.
TEST_P(CudaAttention, FusedMatchesMathWithLse) {
  const auto [head_dim, dtype] = GetParam();
  const double tolerance = dtype == at::kFloat ? 2e-5 : 2e-2;
  at::manual_seed(head_dim);
  const auto on_gpu = at::TensorOptions().dtype(dtype).device(kCuda);
  const at::Tensor q = at::randn({2, 37, 3, head_dim}, on_gpu), k = at::randn({2, 53, 3, head_dim}, on_gpu),
                   v = at::randn({2, 53, 3, head_dim}, on_gpu);
  AttentionOptions options;
  options.need_lse = true;
  const auto fused = local_attention(q, k, v, options);
  options.backend = AttentionBackend::math;
  const auto math = local_attention(q, k, v, options);
  ASSERT_EQ(fused.output.sizes(), q.sizes());
  ASSERT_EQ(fused.output.scalar_type(), dtype);
  ASSERT_EQ(fused.lse.sizes(), (std::vector<int64_t>{2, 3, 37}));
  EXPECT_TRUE(close_relative_to_scale(fused.output.cpu().to(at::kFloat), math.output.cpu().to(at::kFloat), tolerance));
  EXPECT_TRUE(close_relative_to_scale(fused.lse.cpu(), math.lse.cpu(), dtype == at::kFloat ? 1e-5 : 1e-2));
}

INSTANTIATE_TEST_SUITE_P(
    HeadSizes, CudaAttention,
    ::testing::Values(AttentionCase{10, at::kFloat}, AttentionCase{10, at::kBFloat16}, AttentionCase{10, at::kHalf},
                      AttentionCase{12, at::kFloat}, AttentionCase{12, at::kBFloat16}, AttentionCase{12, at::kHalf},
                      AttentionCase{64, at::kFloat}, AttentionCase{64, at::kBFloat16}, AttentionCase{64, at::kHalf},
                      AttentionCase{128, at::kFloat}, AttentionCase{128, at::kBFloat16},
                      AttentionCase{128, at::kHalf}),
    [](const auto& info) {
      return "head" + std::to_string(info.param.head_dim) + "_" + std::string(c10::toString(info.param.dtype));
    });

struct WanFixture {
  std::shared_ptr<Model> model;
  Args args;
  at::Tensor expected;
};

WanFixture load_wan(const std::string& name, c10::ScalarType dtype) {
  const std::string dir = std::string(TESSERA_FIXTURES_DIR) + "/wan/" + name;
  const io::SafetensorsFile inputs(dir + "/inputs.safetensors");
  WanFixture fixture{.model = load_model(dir, dtype, kCuda),
                     .args = {{"hidden_states", inputs.load("hidden_states").to(kCuda, dtype)},
                              {"timestep", inputs.load("timestep").to(kCuda)},
                              {"encoder_hidden_states", inputs.load("encoder_hidden_states").to(kCuda, dtype)}},
                     .expected = io::SafetensorsFile(dir + "/expected.safetensors").load("sample")};
  return fixture;
}

class CudaWan : public Cuda, public ::testing::WithParamInterface<std::string> {};

TEST_P(CudaWan, Fp32MatchesDiffusersAndBf16StaysClose) {
  auto fp32 = load_wan(GetParam(), at::kFloat);
  const at::Tensor single = (*fp32.model)(fp32.args).at(0).cpu();
  EXPECT_TRUE(close_relative_to_scale(single, fp32.expected, 1e-4)) << "fp32 on CUDA against diffusers (CPU fp32)";
  auto bf16 = load_wan(GetParam(), at::kBFloat16);
  const at::Tensor half = (*bf16.model)(bf16.args).at(0);
  EXPECT_EQ(half.scalar_type(), at::kBFloat16);
  // bf16 keeps 8 bits of mantissa: a few layers stay within a few percent of the output's scale.
  EXPECT_TRUE(close_relative_to_scale(half.cpu().to(at::kFloat), single, 5e-2));
}

// Every strategy the world size allows, on CUDA tensors over the host-staged MPI world, equals one rank.
TEST_P(CudaWan, EveryStrategyOnCudaTensorsMatchesSingleRank) {
  auto fp32 = load_wan(GetParam(), at::kFloat);
  const at::Tensor single = (*fp32.model)(fp32.args).at(0);
  for (const auto& config : strategies(world().size())) {
    SCOPED_TRACE(config.to_string());
    enable_parallelism(*fp32.model, fp32.model->context_parallel_plan(),
                       std::make_shared<DeviceMesh>(shared_world(), config));
    const at::Tensor parallel = (*fp32.model)(fp32.args).at(0);
    disable_parallelism(*fp32.model);
    EXPECT_TRUE(parallel.is_cuda());
    EXPECT_TRUE(close_relative_to_scale(parallel.cpu(), single.cpu(), 1e-5));
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CudaWan, ::testing::Values("odd_tokens", "uneven_rope", "temporal_patch"));

}  // namespace
}  // namespace tessera::testing
