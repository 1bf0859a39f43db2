// A Wan2.2 T2V-A14B-layout WanPipeline folder (the tiny one scripts/fixtures/wan22_pipeline.py saves): both experts
// load, guidance_scale_2 defaults to guidance_scale and is refused for a folder with one transformer (before
// loading), and a folder with one expert of two runs only where every step falls on that expert's side of the
// boundary (diffusers would call the missing one), else is refused naming the step.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "src/models/model.h"
#include "src/pipelines/pipeline.h"
#include "tests/unit/error_message.h"
#include "tests/unit/scratch_dir.h"

namespace tessera {
namespace {

const std::string kFixtures = std::string(TESSERA_TEST_FIXTURES_DIR) + "/wan22_pipeline";
const std::string kTwoExperts = kFixtures + "/pipeline";
const std::string kLowOnly = kFixtures + "/low_only";
const std::string kOneTransformer = std::string(TESSERA_TEST_FIXTURES_DIR) + "/wan_pipeline/pipeline";

std::unique_ptr<Pipeline> load(const std::string& dir) {
  return Pipeline::load(dir, at::kFloat, c10::Device(c10::kCPU));
}

GenerationRequest small_request() {
  GenerationRequest request;
  request.prompt = "a fox in the snow";
  request.negative_prompt = "blurry";
  request.height = 32;
  request.width = 48;
  request.frames = 1;
  request.steps = 3;
  request.seed = 5;
  return request;
}

std::string read_text(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// A folder of links to the fixture's parts, with model_index.json's boundary_ratio set to `boundary` and, unless
// `with_high`, the high-noise transformer null.
std::string linked_folder(const testing::ScratchDir& scratch, const std::string& name, const std::string& boundary,
                          bool with_high) {
  const std::string dir = scratch.file(name);
  EXPECT_EQ(mkdir(dir.c_str(), 0755), 0);
  for (const char* part : {"scheduler", "text_encoder", "tokenizer", "transformer", "transformer_2", "vae"}) {
    if (!with_high && std::string(part) == "transformer") continue;
    EXPECT_EQ(symlink((kTwoExperts + "/" + part).c_str(), (dir + "/" + part).c_str()), 0);
  }
  std::string index = read_text(kTwoExperts + "/model_index.json");
  const std::string ratio = "\"boundary_ratio\": 0.875";
  EXPECT_NE(index.find(ratio), std::string::npos);
  index.replace(index.find(ratio), ratio.size(), "\"boundary_ratio\": " + boundary);
  if (!with_high) {
    const std::string high = "\"transformer\": [\n    \"diffusers\",\n    \"WanTransformer3DModel\"\n  ]";
    EXPECT_NE(index.find(high), std::string::npos);
    index.replace(index.find(high), high.size(), "\"transformer\": [null, null]");
  }
  std::ofstream(dir + "/model_index.json") << index;
  return dir;
}

TEST(Wan22Pipeline, LoadsBothExpertsInTheFoldersOrder) {
  auto pipeline = load(kTwoExperts);
  const auto& transformers = pipeline->transformers();
  ASSERT_EQ(transformers.size(), 2U);
  EXPECT_EQ(transformers[0].part, "transformer");
  EXPECT_EQ(transformers[1].part, "transformer_2");
  EXPECT_NE(transformers[0].model.get(), transformers[1].model.get());
  EXPECT_EQ(&pipeline->transformer(), transformers[0].model.get());
  EXPECT_TRUE(pipeline->takes_guidance_scale_2());
}

TEST(Wan22Pipeline, GuidanceScale2DefaultsToGuidanceScale) {
  auto pipeline = load(kTwoExperts);
  GenerationRequest request = small_request();
  request.guidance_scale = 4.0;
  EXPECT_EQ(pipeline->resolve(request).guidance_scale_2, 4.0);
  request.guidance_scale_2 = 2.5;
  EXPECT_EQ(pipeline->resolve(request).guidance_scale_2, 2.5);
}

TEST(Wan22Pipeline, GuidanceScale2ForOneTransformerIsRefusedBeforeLoading) {
  GenerationRequest request = small_request();
  request.guidance_scale_2 = 3.0;
  const std::string expected = "--guidance-scale-2 (guidance_scale_2) is the low-noise expert's guidance scale";
  const std::string before = message_of([&] { Pipeline::check_folder_request(kOneTransformer, request); });
  EXPECT_TRUE(has(before, expected) && has(before, "denoises with one transformer")) << before;
  // And by resolve, for a caller that loaded the pipeline first.
  auto pipeline = load(kOneTransformer);
  EXPECT_FALSE(pipeline->takes_guidance_scale_2());
  EXPECT_EQ(pipeline->resolve(small_request()).guidance_scale_2, std::nullopt);
  const std::string after = message_of([&] { pipeline->resolve(request); });
  EXPECT_TRUE(has(after, expected)) << after;
  EXPECT_EQ(message_of([&] { Pipeline::check_folder_request(kTwoExperts, request); }), "(no error)");
}

TEST(Wan22Pipeline, GuidanceScale2AboveOneNeedsGuidance) {
  auto pipeline = load(kTwoExperts);
  GenerationRequest request = small_request();
  request.guidance_scale = 1.0;
  request.guidance_scale_2 = 3.0;
  const std::string message = message_of([&] { pipeline->resolve(request); });
  EXPECT_TRUE(has(message, "guidance_scale 1 (1 or less) turns guidance off for the whole generation")) << message;
}

TEST(Wan22Pipeline, OneExpertOfTwoIsRefusedNamingTheStepThatNeedsTheOther) {
  auto pipeline = load(kLowOnly);
  ASSERT_EQ(pipeline->transformers().size(), 1U);
  EXPECT_EQ(pipeline->transformers()[0].part, "transformer_2");
  GenerationRequest request = small_request();
  request.steps = 6;
  const std::string message = message_of([&] { pipeline->resolve(request); });
  EXPECT_TRUE(has(message, "has no transformer (null in model_index.json), but step 1 of 6 is at timestep 999, at or "
                           "above the boundary 875"))
      << message;
}

TEST(Wan22Pipeline, OneExpertOfTwoRunsWhenEveryStepIsOnItsSide) {
  // boundary_ratio 1: every timestep (below 1000) is the low-noise expert's, as diffusers would run it.
  testing::ScratchDir scratch("tessera_wan22");
  auto low_only = load(linked_folder(scratch, "low_only", "1.0", /*with_high=*/false));
  auto both = load(linked_folder(scratch, "both", "1.0", /*with_high=*/true));
  auto switching = load(kTwoExperts);
  const GenerationRequest request = small_request();
  const at::Tensor low_frames = low_only->generate(low_only->resolve(request), {});
  const at::Tensor both_frames = both->generate(both->resolve(request), {});
  const at::Tensor switching_frames = switching->generate(switching->resolve(request), {});
  EXPECT_TRUE(at::equal(low_frames, both_frames));
  // The fixture's boundary gives the first step to the high-noise expert: other frames.
  EXPECT_FALSE(at::equal(low_frames, switching_frames));
}

// Whether every parameter and buffer of `model` holds data (not the shape-only tensors a parked expert keeps).
bool holds_weights(Model& model) {
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    if (item.value().defined() && item.value().is_meta()) return false;
  }
  return true;
}

TEST(Wan22Pipeline, AReloadedIdleExpertGivesTheSameFramesAsResidentOnes) {
  const c10::Device cpu(c10::kCPU);
  auto resident = Pipeline::load(kTwoExperts, at::kFloat, cpu, {.idle_expert = IdleExpert::resident});
  auto reloading = Pipeline::load(kTwoExperts, at::kFloat, cpu, {.idle_expert = IdleExpert::reload});
  Model& high = *reloading->transformers()[0].model;
  Model& low = *reloading->transformers()[1].model;
  // Loaded: only the expert that runs first holds its weights.
  EXPECT_TRUE(holds_weights(high));
  EXPECT_FALSE(holds_weights(low));
  const GenerationRequest request = small_request();
  const at::Tensor expected = resident->generate(resident->resolve(request), {});
  EXPECT_TRUE(at::equal(reloading->generate(reloading->resolve(request), {}), expected));
  // The fixture's boundary gives the last steps to the low-noise expert: it holds the weights now, alone.
  EXPECT_FALSE(holds_weights(high));
  EXPECT_TRUE(holds_weights(low));
  EXPECT_EQ(reloading->residency().switches(), 1);
  // The next generation brings the high-noise expert back, with the same bits.
  EXPECT_TRUE(at::equal(reloading->generate(reloading->resolve(request), {}), expected));
  EXPECT_EQ(reloading->residency().switches(), 3);
  EXPECT_EQ(resident->residency().switches(), 0);
  EXPECT_TRUE(holds_weights(*resident->transformers()[1].model));
}

TEST(Wan22Pipeline, AnIdleExpertInHostMemoryGivesTheFramesOfResidentOnesOnCuda) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  const c10::Device gpu(c10::kCUDA, 0);
  auto resident = Pipeline::load(kTwoExperts, at::kFloat, gpu, {.idle_expert = IdleExpert::resident});
  auto parking = Pipeline::load(kTwoExperts, at::kFloat, gpu, {.idle_expert = IdleExpert::host});
  const at::Tensor parked = parking->transformers()[1].model->parameters().front();
  EXPECT_TRUE(parked.is_cpu() && parked.is_pinned());
  const GenerationRequest request = small_request();
  const at::Tensor expected = resident->generate(resident->resolve(request), {});
  EXPECT_TRUE(at::equal(parking->generate(parking->resolve(request), {}), expected));
  EXPECT_TRUE(parking->transformers()[0].model->parameters().front().is_cpu());
  EXPECT_TRUE(parking->transformers()[1].model->parameters().front().is_cuda());
  EXPECT_EQ(parking->residency().switches(), 1);
}

TEST(Wan22Pipeline, IdleExpertChoices) {
  const c10::Device cpu(c10::kCPU), gpu(c10::kCUDA, 0);
  EXPECT_EQ(parse_idle_expert("auto", cpu, false), IdleExpert::reload);
  EXPECT_EQ(parse_idle_expert("auto", cpu, true), IdleExpert::resident);
  EXPECT_EQ(parse_idle_expert("auto", gpu, true), IdleExpert::host);
  EXPECT_EQ(parse_idle_expert("host", cpu, false), IdleExpert::host);
  EXPECT_TRUE(has(message_of([&] { parse_idle_expert("reload", cpu, true); }), "--lora-mode hooks"));
  EXPECT_TRUE(has(message_of([&] { parse_idle_expert("swap", cpu, false); }), "use auto, resident"));
}

}  // namespace
}  // namespace tessera
