// A diffusers WanPipeline folder (the tiny one scripts/fixtures/wan_pipeline.py saves with save_pretrained):
// its parts load behind the pipeline's interfaces, WanPipeline's defaults and frame rule apply, and a folder of
// another Wan variant, a part of another class or a missing tokenizer file gives an error naming the fix. Wan2.2's
// two experts: test_wan22_pipeline.cpp. A rank that receives the embeddings loads the text encoder weightless.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "src/models/model.h"
#include "src/models/text_encoder.h"
#include "src/pipelines/pipeline.h"
#include "tests/unit/error_message.h"
#include "tests/unit/scratch_dir.h"

namespace tessera {
namespace {

const std::string kPipeline = std::string(TESSERA_TEST_FIXTURES_DIR) + "/wan_pipeline/pipeline";

std::unique_ptr<Pipeline> load(const std::string& dir) {
  return Pipeline::load(dir, at::kFloat, c10::Device(c10::kCPU));
}

std::string read_text(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// `text` with its first `from` replaced by `to`; the test fails if `from` is absent.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

class WanPipelineCopy : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(std::system(("cp -r " + kPipeline + " " + copy()).c_str()), 0); }
  std::string copy() const { return scratch_.file("pipeline"); }
  void rewrite(const std::string& file, const std::string& from, const std::string& to) const {
    const std::string path = copy() + "/" + file;
    const std::string text = replaced(read_text(path), from, to);
    std::ofstream(path) << text;
  }
  testing::ScratchDir scratch_{"tessera_wan_pipeline"};
};

TEST(WanPipeline, LoadsItsPartsWithWanPipelineDefaults) {
  auto pipeline = load(kPipeline);
  EXPECT_EQ(pipeline->class_name(), "WanPipeline");
  EXPECT_EQ(pipeline->text_encoder().class_name(), "UMT5EncoderModel");
  GenerationRequest request;
  request.prompt = "a fox";
  const Generation generation = pipeline->resolve(request);
  EXPECT_EQ(generation.height, 480);
  EXPECT_EQ(generation.width, 832);
  EXPECT_EQ(generation.frames, 81);
  EXPECT_EQ(generation.steps, 50);
  EXPECT_DOUBLE_EQ(generation.guidance_scale, 5.0);
  // The prompt is padded to WanPipeline's 512 tokens and zero past its length.
  const PromptEmbeddings text = pipeline->text_encoder().encode({"a fox", ""});
  ASSERT_EQ(text.embeddings.sizes(), at::IntArrayRef({2, 512, 32}));
  const int64_t length = text.mask[0].sum().item<int64_t>();
  EXPECT_GT(length, 1);
  EXPECT_TRUE(text.embeddings[0].slice(0, length).eq(0).all().item<bool>());
  EXPECT_FALSE(text.embeddings[0].slice(0, 0, length).eq(0).all().item<bool>());
}

TEST(WanPipeline, FramesAreOnePlusAMultipleOfFourAndSizesMultiplesOfSixteen) {
  auto pipeline = load(kPipeline);
  GenerationRequest request;
  request.prompt = "a fox";
  request.frames = 10;
  const std::string frames = message_of([&] { pipeline->resolve(request); });
  EXPECT_TRUE(has(frames, "--frames 10: the AutoencoderKLWan makes 1 + 4k frames; the nearest valid counts are 9 and 13"))
      << frames;
  request.frames = 9;
  request.height = 40;
  const std::string height = message_of([&] { pipeline->resolve(request); });
  EXPECT_TRUE(has(height, "--height 40 is not a multiple of 16")) << height;
}

TEST_F(WanPipelineCopy, TransformerTwoWithoutBoundaryIsNotLoaded) {
  // diffusers' WanPipeline runs `transformer` at every step without a boundary_ratio, and never transformer_2.
  rewrite("model_index.json", R"("transformer_2": [
    null,
    null
  ])", R"("transformer_2": ["diffusers", "WanTransformer3DModel"])");
  auto pipeline = load(copy());
  ASSERT_EQ(pipeline->transformers().size(), 1U);
  EXPECT_EQ(pipeline->transformers()[0].part, "transformer");
  EXPECT_FALSE(pipeline->takes_guidance_scale_2());
}

// Wan2.2 TI2V's flag loads (tests/fixtures/wan22_ti2v runs it); a value that is not a boolean is named.
TEST_F(WanPipelineCopy, ExpandTimestepsLoadsAndMustBeABoolean) {
  rewrite("model_index.json", R"("expand_timesteps": false)", R"("expand_timesteps": true)");
  EXPECT_NO_THROW(load(copy()));
  rewrite("model_index.json", R"("expand_timesteps": true)", R"("expand_timesteps": "yes")");
  const std::string message = message_of([&] { load(copy()); });
  EXPECT_TRUE(has(message, "/model_index.json: expand_timesteps must be true or false, got \"yes\"")) << message;
}

TEST_F(WanPipelineCopy, PartOfAnotherClassNamesBoth) {
  rewrite("text_encoder/config.json", R"("UMT5EncoderModel")", R"("T5EncoderModel")");
  const std::string message = message_of([&] { load(copy()); });
  EXPECT_TRUE(has(message, "model_index.json says the text_encoder is a UMT5EncoderModel but " + copy() +
                               "/text_encoder holds a T5EncoderModel"))
      << message;
}

TEST_F(WanPipelineCopy, MissingTokenizerModelIsNamed) {
  ASSERT_EQ(std::remove((copy() + "/tokenizer/spiece.model").c_str()), 0);
  const std::string message = message_of([&] { load(copy()); });
  EXPECT_TRUE(has(message, "spiece.model")) << message;
}

TEST_F(WanPipelineCopy, MissingVaeFolderNamesThePartAndItsClass) {
  ASSERT_EQ(std::system(("rm -r " + copy() + "/vae").c_str()), 0);
  const std::string message = message_of([&] { load(copy()); });
  EXPECT_TRUE(has(message, "the vae part (diffusers AutoencoderKLWan)")) << message;
}

// A rank that receives the embeddings (PipelineLoadOptions::encodes_text false) loads the text encoder without its
// weights: it still checks prompts with its tokenizer, and refuses to encode alone.
TEST(WanPipelineLoading, ARankThatReceivesTheEmbeddingsHoldsNoTextEncoderWeights) {
  auto receiving = Pipeline::load(kPipeline, at::kFloat, c10::Device(c10::kCPU), {.encodes_text = false});
  GenerationRequest request;
  request.prompt = "a fox";
  request.height = 32;
  request.width = 32;
  request.frames = 1;
  request.steps = 1;
  const Generation generation = receiving->resolve(request);
  const std::string alone = message_of([&] { receiving->generate(generation, {}); });
  EXPECT_TRUE(has(alone, "loaded the text encoder without its weights")) << alone;
  // The transformer has its weights; only the text encoder went without.
  for (const auto& parameter : receiving->transformer().parameters()) EXPECT_FALSE(parameter.is_meta());
}

}  // namespace
}  // namespace tessera
