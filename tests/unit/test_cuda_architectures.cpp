// Which GPUs the CUDA kernels run on, and that every other GPU takes the ATen references (kernels/
// cuda_architectures.h): the rules of binary and PTX compatibility on the list this build uses by default.
#include <gtest/gtest.h>

#include "common/check.h"
#include "kernels/cuda_architectures.h"

namespace tessera {
namespace {

TEST(CudaArchitectures, ParsesCMakeSyntax) {
  const auto parsed = parse_cuda_architectures("75-real;90;120-virtual");
  ASSERT_EQ(parsed.size(), 3u);
  EXPECT_EQ(parsed[0].number, 75);
  EXPECT_TRUE(parsed[0].binary);
  EXPECT_FALSE(parsed[0].ptx);
  EXPECT_TRUE(parsed[1].binary && parsed[1].ptx);
  EXPECT_FALSE(parsed[2].binary);
  EXPECT_TRUE(parsed[2].ptx);
  EXPECT_TRUE(parse_cuda_architectures("").empty());
  EXPECT_EQ(parse_cuda_architectures("80-real,90").size(), 2u);
  EXPECT_THROW(parse_cuda_architectures("sm_90"), Error);
  EXPECT_THROW(parse_cuda_architectures("90-fast"), Error);
  EXPECT_THROW(parse_cuda_architectures("9.0"), Error);
}

// LibTorch 2.11's CUDA 13 list as the build derives it: binaries for each, PTX for the newest.
TEST(CudaArchitectures, TorchListCoversItsGpusAndNewerOnesThroughPtx) {
  const auto built = parse_cuda_architectures("75-real;80-real;86-real;90-real;100-real;120");
  for (int capability : {75, 80, 86, 87, 89, 90, 100, 103, 120, 121, 130}) {
    EXPECT_TRUE(cuda_architectures_cover(built, capability)) << "sm_" << capability;
  }
  // Below the oldest binary, or a new major below the newest PTX: the references.
  for (int capability : {60, 70, 72, 110}) {
    EXPECT_FALSE(cuda_architectures_cover(built, capability)) << "sm_" << capability;
  }
}

// The build of issue 15 (sm_90 alone): an A100, an L40S or an RTX 4090 takes the references instead of failing.
TEST(CudaArchitectures, Sm90AloneFallsBackElsewhere) {
  const auto built = parse_cuda_architectures("90-real");
  EXPECT_TRUE(cuda_architectures_cover(built, 90));
  for (int capability : {80, 86, 89, 100, 120}) {
    EXPECT_FALSE(cuda_architectures_cover(built, capability)) << "sm_" << capability;
  }
  EXPECT_TRUE(cuda_architectures_cover(parse_cuda_architectures("80-virtual"), 90));
  EXPECT_FALSE(cuda_architectures_cover(parse_cuda_architectures("80-virtual"), 75));
}

TEST(CudaArchitectures, CpuTensorsNeverTakeCudaKernels) {
  EXPECT_FALSE(cuda_kernels_run_on(c10::Device(c10::kCPU)));
}

}  // namespace
}  // namespace tessera
