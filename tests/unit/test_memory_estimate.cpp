// The memory estimate (src/pipelines/memory_estimate.h): how its terms move with the request, and how close its
// total comes to the peak resident memory a generation really reaches on this machine (the tiny Wan and FLUX
// pipelines and the embedded model, each at a size where the request's own memory is what one measures).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "measure/peak_memory.h"
#include "src/models/model.h"
#include "src/models/umt5/umt5_encoder.h"
#include "src/pipelines/memory_estimate.h"
#include "src/pipelines/pipeline.h"
#include "src/shapes/embedded_model.h"

namespace tessera {
namespace {

const std::string kWan = std::string(TESSERA_TEST_FIXTURES_DIR) + "/wan_pipeline/pipeline";
const std::string kFlux = std::string(TESSERA_TEST_FIXTURES_DIR) + "/flux_pipeline/pipeline";

MemoryRequest sized(int64_t height, int64_t width, int64_t frames) {
  return {.height = height, .width = width, .frames = frames, .dtype = at::kFloat};
}

TEST(MemoryEstimate, WeightsMatchTheLoadedParameters) {
  // The tiny Wan pipeline's parts, counted from the loaded modules: transformer, UMT5 (its tied embedding once)
  // and the VAE, all fp32 here.
  const auto pipeline = Pipeline::load(kWan, at::kFloat, c10::Device(c10::kCPU));
  int64_t elements = 0;
  for (const at::Tensor& parameter : pipeline->transformer().parameters()) elements += parameter.numel();
  const int64_t weights = estimate_memory(kWan, sized(64, 64, 1)).weights;
  // The transformer alone is a lower bound; the text encoder and VAE add to it.
  EXPECT_GT(weights, 4 * elements);
  // bf16 halves what is not kept in fp32 (the VAE, T5's feed-forward output).
  MemoryRequest half = sized(64, 64, 1);
  half.dtype = at::kBFloat16;
  EXPECT_LT(estimate_memory(kWan, half).weights, weights);
  // --shard-weights: a quarter of the transformer and of UMT5, plus what a forward holds whole (the parameters
  // outside the blocks and two blocks). Each has two blocks, so that is all of it again; one model runs at a time,
  // so the larger counts once.
  const auto encoder = load_umt5_encoder(kWan + "/text_encoder", at::kFloat, c10::Device(c10::kCPU));
  int64_t encoder_elements = 0;
  for (const at::Tensor& parameter : encoder->parameters()) encoder_elements += parameter.numel();
  MemoryRequest sharded = sized(64, 64, 1);
  sharded.weight_shards = 4;
  const double whole_models = 4.0 * static_cast<double>(elements + encoder_elements);
  const double shares = whole_models / 4;
  const double in_flight = 4.0 * static_cast<double>(std::max(elements, encoder_elements));
  EXPECT_NEAR(static_cast<double>(estimate_memory(kWan, sharded).weights),
              static_cast<double>(weights) - whole_models + shares + in_flight, 8.0);
}

TEST(MemoryEstimate, Fp8CountsOneBytePerMatrixElementAndFp8ScaledFourPerRow) {
  // --weights fp8: each element of the transformer's matrices 1 byte instead of 4 (fp32 here); fp8-scaled adds
  // its fp32 scale per row. Counted from the loaded transformer's matrices.
  const auto pipeline = Pipeline::load(kWan, at::kFloat, c10::Device(c10::kCPU));
  int64_t matrix_elements = 0, rows = 0;
  for (const at::Tensor& parameter : pipeline->transformer().parameters()) {
    if (parameter.dim() != 2) continue;
    matrix_elements += parameter.numel();
    rows += parameter.size(0);
  }
  ASSERT_GT(rows, 0);
  const int64_t full = estimate_memory(kWan, sized(64, 64, 1)).weights;
  MemoryRequest fp8 = sized(64, 64, 1);
  fp8.weight_element_bytes = 1;
  EXPECT_NEAR(static_cast<double>(full - estimate_memory(kWan, fp8).weights), 3.0 * matrix_elements, 2.0);
  MemoryRequest scaled = fp8;
  scaled.weight_row_scale_bytes = 4;
  EXPECT_NEAR(static_cast<double>(estimate_memory(kWan, scaled).weights - estimate_memory(kWan, fp8).weights),
              4.0 * rows, 2.0);
  // Sharded over 4 (--shard-weights): the transformer's FP8 bytes are shared out (a quarter, plus the whole of it a
  // forward gathers, as it has two blocks, where it is larger than UMT5's, gathered whole too), the scales kept
  // whole on every rank.
  int64_t elements = 0;
  for (const at::Tensor& parameter : pipeline->transformer().parameters()) elements += parameter.numel();
  const auto encoder = load_umt5_encoder(kWan + "/text_encoder", at::kFloat, c10::Device(c10::kCPU));
  int64_t encoder_elements = 0;
  for (const at::Tensor& parameter : encoder->parameters()) encoder_elements += parameter.numel();
  const double full_bytes = 4.0 * static_cast<double>(elements), encoder_bytes = 4.0 * static_cast<double>(encoder_elements);
  const double fp8_bytes = full_bytes - 3.0 * static_cast<double>(matrix_elements);
  MemoryRequest full_sharded = sized(64, 64, 1), fp8_sharded = fp8;
  full_sharded.weight_shards = fp8_sharded.weight_shards = 4;
  EXPECT_NEAR(static_cast<double>(estimate_memory(kWan, full_sharded).weights - estimate_memory(kWan, fp8_sharded).weights),
              (full_bytes - fp8_bytes) / 4 + std::max(full_bytes, encoder_bytes) - std::max(fp8_bytes, encoder_bytes),
              8.0);
  MemoryRequest scaled_sharded = scaled;
  scaled_sharded.weight_shards = 4;
  EXPECT_NEAR(static_cast<double>(estimate_memory(kWan, scaled_sharded).weights -
                                  estimate_memory(kWan, fp8_sharded).weights),
              4.0 * rows, 2.0);
}

// fp32 on the CPU with whole weights, each linear layer also keeps its matrix packed (kernels/packed_linear.h):
// the transformer's matrices count twice. Counted from the loaded transformer's matrices.
TEST(MemoryEstimate, PackedMatricesCountTheTransformersMatricesTwice) {
  const auto pipeline = Pipeline::load(kWan, at::kFloat, c10::Device(c10::kCPU));
  int64_t matrix_elements = 0;
  for (const at::Tensor& parameter : pipeline->transformer().parameters()) {
    if (parameter.dim() == 2) matrix_elements += parameter.numel();
  }
  ASSERT_GT(matrix_elements, 0);
  MemoryRequest packed = sized(64, 64, 1);
  packed.packed_matrices = true;
  const int64_t whole = estimate_memory(kWan, sized(64, 64, 1)).weights;
  EXPECT_NEAR(static_cast<double>(estimate_memory(kWan, packed).weights - whole),
              4.0 * static_cast<double>(matrix_elements), 2.0);
}

TEST(MemoryEstimate, ActivationsAndDecodeShrinkWithRanks) {
  MemoryRequest one = sized(512, 512, 9);
  MemoryRequest four = one;
  four.context_parallel = four.decode_ranks = 4;
  const MemoryEstimate a = estimate_memory(kWan, one), b = estimate_memory(kWan, four);
  EXPECT_EQ(a.weights, b.weights);
  EXPECT_EQ(a.latents, b.latents);
  EXPECT_LT(b.activations, a.activations);
  EXPECT_LT(b.decode, a.decode);
  // Twice the frames' side: about four times the decode.
  const MemoryEstimate big = estimate_memory(kWan, sized(1024, 1024, 9));
  EXPECT_GT(big.decode, 3 * a.decode);
}

TEST(MemoryEstimate, HugeRequestsDoNotOverflow) {
  const MemoryEstimate estimate = estimate_memory(embedded_model_dir(), sized(1000000000, 32, 1));
  // 3 channels x 1e9 x 32 fp32 latents alone are 384 GB.
  EXPECT_GT(estimate.latents, int64_t{384} * 1000 * 1000 * 1000);
  EXPECT_GT(estimate.total(), estimate.latents);
}

GenerationRequest one_step() {
  GenerationRequest request;
  request.prompt = "red circle";
  request.steps = 1;
  return request;
}

// The peak resident memory of loading `dir` and generating one step at the size, above what the process held
// before; a small generation first, on another copy of the pipeline, pages in the code and starts the threads,
// as any real run has before it reaches its peak.
int64_t measured_peak(const std::string& dir, int64_t height, int64_t width, int64_t frames) {
  // The live peak: every block of 256 KiB or more mapped on its own and returned when freed. With glibc's default
  // (a threshold that grows, freed blocks kept in the heap for reuse) the same case's resident peak moved by up to
  // half from one run to the next (docs/memory_estimate.md), which no bound of 15% survives.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  {
    const auto warm = Pipeline::load(dir, at::kFloat, c10::Device(c10::kCPU));
    GenerationRequest small = one_step();
    small.height = small.width = 64;
    small.frames = 1;
    warm->generate(warm->resolve(small), {});
  }
  const PeakMemoryWindow window;
  if (!window.reset()) return -1;
  const auto pipeline = Pipeline::load(dir, at::kFloat, c10::Device(c10::kCPU));
  GenerationRequest request = one_step();
  request.height = height;
  request.width = width;
  request.frames = frames;
  const at::Tensor frames_out = pipeline->generate(pipeline->resolve(request), {});
  EXPECT_EQ(frames_out.size(0), frames);
  return window.peak_bytes() - window.start_bytes();
}

void expect_within(const std::string& dir, int64_t height, int64_t width, int64_t frames) {
  const int64_t measured = measured_peak(dir, height, width, frames);
  if (measured < 0) GTEST_SKIP() << "the kernel refused to reset the resident high-water mark";
  const MemoryEstimate estimate = estimate_memory(dir, sized(height, width, frames));
  const double error = static_cast<double>(estimate.total() - measured) / static_cast<double>(measured);
  std::printf("%s %lldx%lld x%lld: estimate %s (weights %s, latents %s, activations %s, decode %s), measured %s, "
              "error %+.1f%%\n",
              dir.c_str(), static_cast<long long>(height), static_cast<long long>(width),
              static_cast<long long>(frames), format_bytes(estimate.total()).c_str(),
              format_bytes(estimate.weights).c_str(), format_bytes(estimate.latents).c_str(),
              format_bytes(estimate.activations).c_str(), format_bytes(estimate.decode).c_str(),
              format_bytes(measured).c_str(), 100 * error);
  EXPECT_LE(std::abs(error), 0.15) << "estimate " << estimate.total() << " bytes, measured " << measured;
}

TEST(MemoryEstimateAccuracy, WanStill) { expect_within(kWan, 512, 512, 1); }
TEST(MemoryEstimateAccuracy, WanClip) { expect_within(kWan, 256, 256, 9); }
TEST(MemoryEstimateAccuracy, FluxImage) { expect_within(kFlux, 1024, 1024, 1); }
TEST(MemoryEstimateAccuracy, EmbeddedModel) { expect_within(embedded_model_dir(), 128, 128, 1); }
// Other sizes and shapes.
TEST(MemoryEstimateAccuracy, WanWideClip) { expect_within(kWan, 256, 512, 13); }
TEST(MemoryEstimateAccuracy, FluxWide) { expect_within(kFlux, 512, 1024, 1); }
TEST(MemoryEstimateAccuracy, EmbeddedModelClip) { expect_within(embedded_model_dir(), 96, 160, 4); }

}  // namespace
}  // namespace tessera
