// The context-parallel kernels' sm_90 versions (kernels/*.cu) against their plain-ATen references, on the
// awkward shapes of tests/unit/test_parallel_kernels.cpp. Skips without a GPU, and where tessera was built
// without its CUDA kernels.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "kernels/all_to_all_pack.h"
#include "kernels/cuda_kernels.h"
#include "kernels/lse_merge.h"
#include "tests/relative_error.h"

namespace tessera::testing {
namespace {

const c10::Device kCuda(c10::kCUDA, 0);
constexpr float kMinusInfinity = -std::numeric_limits<float>::infinity();

class CudaKernels : public ::testing::Test {
 protected:
  void SetUp() override {
#ifndef TESSERA_WITH_CUDA_KERNELS
    GTEST_SKIP() << "tessera was built without its CUDA kernels";
#endif
    if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device visible";
  }
};

#ifdef TESSERA_WITH_CUDA_KERNELS
TEST_F(CudaKernels, LseMergeMatchesReference) {
  struct Case {
    int64_t batch, seq, heads, head_dim;
    c10::ScalarType dtype;
  };
  for (const Case c : {Case{1, 1, 1, 1, at::kFloat}, Case{2, 7, 3, 5, at::kFloat}, Case{1, 13, 5, 33, at::kBFloat16},
                       Case{3, 4, 2, 12, at::kHalf}, Case{1, 300, 12, 128, at::kBFloat16}, Case{2, 0, 3, 8, at::kFloat}}) {
    SCOPED_TRACE(::testing::Message() << c.batch << "x" << c.seq << "x" << c.heads << "x" << c.head_dim << " " << c.dtype);
    at::manual_seed(c.seq + c.head_dim);
    at::Tensor output = at::randn({c.batch, c.seq, c.heads, c.head_dim});
    at::Tensor lse = at::randn({c.batch, c.heads, c.seq}) * 3, partial_lse = at::randn({c.batch, c.heads, c.seq}) * 3;
    const at::Tensor partial = at::randn({c.batch, c.seq, c.heads, c.head_dim}).to(c.dtype);
    if (c.seq > 0) {
      lse.select(2, 0).fill_(kMinusInfinity);
      output.select(1, 0).zero_();
      lse.select(2, c.seq - 1).fill_(kMinusInfinity);
      partial_lse.select(2, c.seq - 1).fill_(kMinusInfinity);
    }
    const at::Tensor expected_output = output.clone(), expected_lse = lse.clone();
    lse_merge_reference(expected_output, expected_lse, partial, partial_lse);
    // The accumulators as views of wider ones, the partial output transposed in memory.
    const at::Tensor gpu_output = at::cat({output, output}, 1).to(kCuda).narrow(1, 0, c.seq);
    const at::Tensor gpu_lse = at::cat({lse, lse}, 2).to(kCuda).narrow(2, 0, c.seq);
    const at::Tensor gpu_partial = partial.transpose(1, 2).contiguous().to(kCuda).transpose(1, 2);
    lse_merge_cuda(gpu_output, gpu_lse, gpu_partial, partial_lse.to(kCuda));
    if (c.seq == 0) continue;
    EXPECT_LT(relative_error(gpu_output.cpu(), expected_output), 1e-6);
    EXPECT_FALSE(gpu_output.isnan().any().item<bool>());
    EXPECT_TRUE(at::equal(gpu_lse.cpu().isinf(), expected_lse.isinf()));
    const at::Tensor finite = expected_lse.isfinite();
    if (finite.any().item<bool>()) {
      EXPECT_LT(relative_error(gpu_lse.cpu().masked_select(finite), expected_lse.masked_select(finite)), 1e-6);
    }
  }
}

TEST_F(CudaKernels, PackAndUnpackMatchReference) {
  struct Case {
    std::vector<int64_t> shape;
    int64_t dim;
    std::vector<int64_t> chunks;
    int64_t count;
    c10::ScalarType dtype;
  };
  for (const Case& c : {Case{{2, 7, 5, 9}, 2, {2, 2, 1}, 3, at::kFloat}, Case{{1, 1, 2, 12}, 2, {1, 1, 0}, 3, at::kBFloat16},
                        Case{{2, 9, 3, 5}, 1, {4, 0, 5}, 1, at::kHalf}, Case{{3, 2, 11}, 2, {4, 4, 3}, 1, at::kFloat},
                        Case{{1, 1536, 12, 128}, 2, {6, 6}, 3, at::kBFloat16}, Case{{1, 0, 3, 4}, 2, {2, 1}, 3, at::kFloat}}) {
    SCOPED_TRACE(::testing::Message() << at::IntArrayRef(c.shape) << " dim " << c.dim);
    std::vector<at::Tensor> inputs, gpu_inputs;
    for (int64_t i = 0; i < c.count; ++i) {
      inputs.push_back(at::randn(c.shape).to(c.dtype));
      gpu_inputs.push_back(inputs.back().to(kCuda).transpose(0, -1).contiguous().transpose(0, -1));  // strided
    }
    const at::Tensor expected = all_to_all_pack_reference(inputs, c.dim, c.chunks);
    const at::Tensor packed = all_to_all_pack_cuda(gpu_inputs, c.dim, c.chunks);
    EXPECT_TRUE(at::equal(packed.cpu(), expected));
    const at::Tensor unpacked = all_to_all_unpack_cuda(packed, c.count, c.shape, c.dim, c.chunks);
    EXPECT_TRUE(at::equal(unpacked.cpu(), all_to_all_unpack_reference(expected, c.count, c.shape, c.dim, c.chunks)));
    EXPECT_TRUE(at::equal(unpacked.cpu(), at::stack(inputs)));
  }
}
#endif

}  // namespace
}  // namespace tessera::testing
