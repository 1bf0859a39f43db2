// The generation pipeline on a pipeline folder that `tessera train` writes: training runs and writes a loadable
// folder; prompts, sizes and parts are checked with clear errors; generation is seeded (src/pipelines/, src/train/).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include "src/models/model.h"
#include "src/shapes/coordinate_channels.h"
#include "src/pipelines/pipeline.h"
#include "src/train/shapes_trainer.h"
#include "src/train/train_recipe.h"
#include "tests/unit/error_message.h"
#include "tests/unit/scratch_dir.h"

namespace tessera {
namespace {

constexpr const char* kTinyRecipe = R"({
  "seed": 3, "height": 16, "width": 16, "clip_frames": 2,
  "transformer": {"patch_size": [1, 2, 2], "num_attention_heads": 2, "attention_head_dim": 8, "in_channels": 6,
                  "out_channels": 3, "text_dim": 16, "freq_dim": 16, "ffn_dim": 32, "num_layers": 1,
                  "cross_attn_norm": true, "eps": 1e-06, "rope_max_seq_len": 64},
  "text_encoder": {"max_length": 8, "dim": 16, "num_layers": 1, "num_heads": 2},
  "scheduler": {"_class_name": "FlowMatchEulerDiscreteScheduler", "num_train_timesteps": 1000, "shift": 1.0},
  "defaults": {"height": 16, "width": 16, "frames": 1, "motion_frames": 3, "motion_words": ["moving"],
               "steps": 3, "guidance_scale": 3.0, "negative_prompt": ""},
  "steps": 4, "image_batch": 3, "clip_batch": 2, "clip_every": 2, "warmup_steps": 1,
  "checkpoint_every": 2, "log_every": 1
})";

// One trained folder shared by the tests of this file (training is the slow part).
class GenerationPipelineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::ScratchDir("tessera_pipeline");
    std::ofstream(dir_->file("recipe.json")) << kTinyRecipe;
    const TrainRecipe recipe = read_train_recipe(dir_->file("recipe.json"));
    TrainOptions options;
    options.out_dir = dir_->file("model");
    options.on_log = [](const TrainProgress& progress) { losses_.push_back(progress.loss); };
    options.on_checkpoint = [](const std::string&) { ++checkpoints_; };
    train_shapes_model(recipe, kTinyRecipe, options);
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string model_dir() { return dir_->file("model"); }
  static std::unique_ptr<Pipeline> load() {
    return Pipeline::load(model_dir(), at::kFloat, c10::Device(c10::kCPU));
  }

  static testing::ScratchDir* dir_;
  static std::vector<double> losses_;
  static int checkpoints_;
};
testing::ScratchDir* GenerationPipelineTest::dir_ = nullptr;
std::vector<double> GenerationPipelineTest::losses_;
int GenerationPipelineTest::checkpoints_ = 0;

TEST_F(GenerationPipelineTest, TrainingLogsFiniteLossesAndCheckpoints) {
  ASSERT_EQ(losses_.size(), 4u);
  for (double loss : losses_) EXPECT_TRUE(std::isfinite(loss) && loss > 0) << loss;
  EXPECT_EQ(checkpoints_, 2);
  for (const char* file : {"model_index.json", "transformer/config.json", "transformer/diffusion_pytorch_model.safetensors",
                           "text_encoder/model.safetensors", "tokenizer/vocab.json", "scheduler/scheduler_config.json",
                           "vae/config.json", "recipe.json", "loss.json"}) {
    EXPECT_TRUE(std::ifstream(model_dir() + "/" + file).good()) << file;
  }
}

TEST_F(GenerationPipelineTest, ResolvesDefaultsAndChecksPromptsAndSizes) {
  const auto pipeline = load();
  GenerationRequest request;
  request.prompt = "red circle top left";
  Generation still = pipeline->resolve(request);
  EXPECT_EQ(still.frames, 1);
  EXPECT_EQ(still.steps, 3);
  EXPECT_EQ(still.height, 16);
  EXPECT_DOUBLE_EQ(still.guidance_scale, 3.0);
  request.prompt = "blue square moving right";
  EXPECT_EQ(pipeline->resolve(request).frames, 3);
  request.frames = 5;
  EXPECT_EQ(pipeline->resolve(request).frames, 5);

  request.prompt = "a red dog";
  const std::string unknown = message_of([&] { pipeline->resolve(request); });
  EXPECT_TRUE(has(unknown, "unknown word 'a'") && has(unknown, "red green blue")) << unknown;
  request.prompt = "red circle center";
  request.height = 33;
  const std::string size = message_of([&] { pipeline->resolve(request); });
  EXPECT_TRUE(has(size, "--height 33 is not a multiple of 2") && has(size, "32 and 34")) << size;
  request.height = 1;
  EXPECT_TRUE(has(message_of([&] { pipeline->resolve(request); }), "nearest valid values are 2"));
}

TEST_F(GenerationPipelineTest, GenerationIsSeeded) {
  const auto pipeline = load();
  GenerationRequest request;
  request.prompt = "green triangle bottom left";
  request.seed = 4;
  const at::Tensor first = pipeline->generate(pipeline->resolve(request), {});
  ASSERT_EQ(first.sizes(), at::IntArrayRef({1, 16, 16, 3}));
  EXPECT_EQ(first.scalar_type(), at::kByte);
  EXPECT_TRUE(at::equal(first, pipeline->generate(pipeline->resolve(request), {})));
  request.seed = 5;
  EXPECT_FALSE(at::equal(first, pipeline->generate(pipeline->resolve(request), {})));
  request.prompt = "green square moving up";
  request.guidance_scale = 1.0;
  EXPECT_EQ(pipeline->generate(pipeline->resolve(request), {}).sizes(), at::IntArrayRef({3, 16, 16, 3}));
}

TEST_F(GenerationPipelineTest, MissingOrUnknownPartsAreNamed) {
  testing::ScratchDir copy;
  const std::string broken = copy.file("broken");
  ASSERT_EQ(std::system(("cp -r " + model_dir() + " " + broken).c_str()), 0);
  ASSERT_EQ(std::system(("rm -r " + broken + "/text_encoder").c_str()), 0);
  const std::string missing = message_of([&] { Pipeline::load(broken, at::kFloat, c10::Device(c10::kCPU)); });
  EXPECT_TRUE(has(missing, "text_encoder part (tessera WordTextEncoder)") && has(missing, broken + "/text_encoder"))
      << missing;
  std::ofstream(broken + "/model_index.json") << R"({"_class_name": "FancyPipeline"})";
  const std::string unknown = message_of([&] { Pipeline::load(broken, at::kFloat, c10::Device(c10::kCPU)); });
  EXPECT_TRUE(has(unknown, "unknown pipeline class 'FancyPipeline'")) << unknown;
  EXPECT_TRUE(has(message_of([&] { Pipeline::load(copy.file("none"), at::kFloat, c10::Device(c10::kCPU)); }),
                  "model_index.json is missing"));
}

// A recipe's integers are range-checked before narrowing: 2.5 steps used to train 2, a negative seed to wrap.
TEST(TrainRecipe, NumbersOutOfRangeNameTheKey) {
  testing::ScratchDir dir("tessera_recipe");
  const std::string path = dir.file("recipe.json");
  auto message_for = [&](const std::string& key, const std::string& value) {
    std::string text = kTinyRecipe;
    const std::string entry = "\"" + key + "\": ";
    const size_t at = text.find(entry) + entry.size();
    text.replace(at, text.find_first_of(",}", at) - at, value);
    std::ofstream(path) << text;
    return message_of([&] { read_train_recipe(path); });
  };
  EXPECT_TRUE(has(message_for("clip_every", "2.5"), "\"clip_every\" must be an integer"))
      << message_for("clip_every", "2.5");
  EXPECT_TRUE(has(message_for("image_batch", "1000000000000"), "\"image_batch\" must be an integer from 1 to 1048576"))
      << message_for("image_batch", "1000000000000");
  EXPECT_TRUE(has(message_for("seed", "-1"), "\"seed\" must be an integer from 0")) << message_for("seed", "-1");
  EXPECT_TRUE(has(message_for("height", "0"), "\"height\" must be an integer from 1")) << message_for("height", "0");
  EXPECT_TRUE(has(message_for("max_length", "100000000"), "\"text_encoder\": \"max_length\" must be an integer from 1"))
      << message_for("max_length", "100000000");
}

TEST(CoordinateChannels, AppendTimeRowAndColumnCentres) {
  const at::Tensor x = at::zeros({2, 3, 2, 4, 2});
  const at::Tensor with = append_coordinate_channels(x);
  ASSERT_EQ(with.sizes(), at::IntArrayRef({2, 6, 2, 4, 2}));
  EXPECT_TRUE(at::equal(with.slice(1, 0, 3), x));
  EXPECT_FLOAT_EQ(with[1][3][0][0][0].item<float>(), -0.5f);  // t: two frames at -0.5, 0.5
  EXPECT_FLOAT_EQ(with[1][3][1][3][1].item<float>(), 0.5f);
  EXPECT_FLOAT_EQ(with[0][4][0][0][1].item<float>(), -0.75f);  // y: four rows
  EXPECT_FLOAT_EQ(with[0][4][0][3][0].item<float>(), 0.75f);
  EXPECT_FLOAT_EQ(with[0][5][1][2][0].item<float>(), -0.5f);  // x: two columns
  EXPECT_FLOAT_EQ(append_coordinate_channels(at::zeros({1, 3, 1, 2, 2}))[0][3].abs().max().item<float>(), 0.0f);
}

}  // namespace
}  // namespace tessera
