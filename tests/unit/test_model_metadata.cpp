// Model metadata: the declared capability table, lookups by name, describe, and building a model from a
// diffusers directory's config.json.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/unit/error_message.h"
#include "common/check.h"
#include "src/models/part_config.h"
#include "src/models/model_registry.h"
#include "src/tiny/tiny_dit.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;

TEST(ModelMetadata, TinyModelDeclaresItsCapabilities) {
  const ModelMetadata metadata = TinyDiTModel().metadata();
  EXPECT_EQ(metadata.class_name, "TinyDiTModel");
  EXPECT_TRUE(metadata.supports("cache"));
  EXPECT_TRUE(metadata.supports("supports_cache"));
  EXPECT_TRUE(metadata.supports("_supports_cache"));
  EXPECT_TRUE(metadata.supports("cp_plan"));
  EXPECT_TRUE(metadata.supports("context_parallel"));
  EXPECT_TRUE(metadata.supports("repeated_blocks"));
  EXPECT_TRUE(metadata.supports_dtype("bfloat16"));
  EXPECT_FALSE(metadata.supports_dtype("float64"));
  EXPECT_EQ(metadata.capabilities.repeated_blocks, (std::vector<std::string>{"TinyDiTBlock"}));
}

TEST(ModelMetadata, UnknownCapabilityIsFalse) {
  const ModelMetadata metadata = TinyDiTModel().metadata();
  EXPECT_FALSE(metadata.supports("teleportation"));
  EXPECT_FALSE(metadata.supports(""));
  EXPECT_FALSE(metadata.supports("supports_"));
}

TEST(ModelMetadata, ParameterCountIsTheSumOfParameterSizes) {
  TinyDiTConfig config;  // in 4, hidden 32, ffn 64, out 4, 2 layers
  const int64_t linear_in = 4 * 32 + 32, linear_out = 32 * 4 + 4;
  const int64_t attention = 4 * (32 * 32 + 32), ff = (32 * 64 + 64) + (64 * 32 + 32);
  EXPECT_EQ(TinyDiTModel(config).metadata().parameter_count, linear_in + linear_out + 2 * (attention + ff));
}

TEST(ModelMetadata, HookPointsAreTheHookableModulePaths) {
  const auto hook_points = TinyDiTModel().metadata().hook_points;
  EXPECT_EQ(hook_points, (std::vector<std::string>{"", "blocks.0", "blocks.0.attn1", "blocks.0.ff", "blocks.1",
                                                   "blocks.1.attn1", "blocks.1.ff"}));
}

// A model that declares nothing: every capability must read as absent, and describe must still work.
class BareModel : public Model {
 public:
  std::string class_name() const override { return "BareModel"; }
  ModelCapabilities capabilities() const override { return {}; }

 protected:
  Outputs forward_impl(Args&) override { return {}; }
};

TEST(ModelMetadata, ModelThatDeclaresNothingSupportsNothing) {
  const BareModel model;
  const ModelMetadata metadata = model.metadata();
  for (const char* name : {"cache", "cp_plan", "no_split_modules", "repeated_blocks"}) {
    EXPECT_FALSE(metadata.supports(name)) << name;
  }
  EXPECT_EQ(metadata.parameter_count, 0);
  const std::string text = model.describe(true);
  EXPECT_TRUE(has(text, "supports_cache       no")) << text;
  EXPECT_TRUE(has(text, "dtypes               none")) << text;
}

TEST(ModelMetadata, DescribeRendersOneRowPerCapability) {
  const std::string text = TinyDiTModel().describe();
  EXPECT_EQ(text.rfind("TinyDiTModel\n", 0), 0u) << text;
  EXPECT_TRUE(has(text, "supports_cache       yes")) << text;
  EXPECT_TRUE(has(text, "cp_plan              yes, 2 entries")) << text;
  EXPECT_TRUE(has(text, "dtypes               float32, bfloat16")) << text;
  EXPECT_TRUE(has(text, "inputs               hidden_states\n")) << text;
  EXPECT_TRUE(has(text, "parameters           17,124")) << text;
  EXPECT_TRUE(has(text, "hidden_size=32")) << text;
  EXPECT_FALSE(has(text, "blocks.0.attn1")) << text;
}

TEST(ModelMetadata, VerboseDescribeAddsMeaningsPlanAndHookPoints) {
  const std::string brief = TinyDiTModel().describe(false);
  const std::string verbose = TinyDiTModel().describe(true);
  EXPECT_GT(verbose.size(), brief.size());
  EXPECT_TRUE(has(verbose, "proj_out: gather output 0 along dim 1")) << verbose;
  EXPECT_TRUE(has(verbose, "blocks.1.attn1")) << verbose;
  EXPECT_TRUE(has(verbose, "hidden_size = 32")) << verbose;
  EXPECT_TRUE(has(verbose, "enable_cache")) << verbose;
}

TEST(ModelRegistry, UnknownClassNamesTheClassAndTheSupportedOnes) {
  EXPECT_TRUE(is_supported_model_class("TinyDiTModel"));
  EXPECT_TRUE(is_supported_model_class("WanTransformer3DModel"));
  EXPECT_TRUE(is_supported_model_class("FluxTransformer2DModel"));
  const std::string message = message_of([] { create_model("SD3Transformer2DModel", nlohmann::json::object()); });
  EXPECT_TRUE(has(message, "unsupported model class 'SD3Transformer2DModel'")) << message;
  EXPECT_TRUE(has(message, "TinyDiTModel")) << message;
  EXPECT_TRUE(has(message, "WanTransformer3DModel")) << message;
}

TEST(ModelRegistry, BuildsTheFixtureModelFromItsConfig) {
  const auto model = create_model_from_dir(fs::path(TESSERA_TEST_FIXTURES_DIR) / "tiny_dit");
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->class_name(), "TinyDiTModel");
  const auto* tiny = dynamic_cast<const TinyDiTModel*>(model.get());
  ASSERT_NE(tiny, nullptr);
  EXPECT_EQ(tiny->config().hidden_size, 32);
  EXPECT_EQ(tiny->config().num_layers, 2);
}

// A scratch model directory, removed afterwards. POSIX calls instead of std::filesystem::remove_all: the
// torch wheel's libtorch.so exports its own std::filesystem symbols, and its remove_all crashes when called
// from code linked against it.
class ModelDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "tessera_model_dir_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr) << "mkdtemp failed for " << pattern;
    dir_ = pattern;
  }
  void TearDown() override {
    std::remove((dir_ / "config.json").c_str());
    std::remove(dir_.c_str());
  }
  void write_config(const std::string& text) { std::ofstream(dir_ / "config.json") << text; }

  fs::path dir_;
};

// Wan2.1-T2V-14B's config: 14 billion parameters, 56 GB in fp32, far more than a test machine has; describing
// it must allocate none of them (the parameters are shape-only until loaded).
TEST_F(ModelDirTest, DescribingA14BModelAllocatesNoWeights) {
  write_config(R"({"_class_name": "WanTransformer3DModel", "patch_size": [1, 2, 2], "num_attention_heads": 40,
    "attention_head_dim": 128, "in_channels": 16, "out_channels": 16, "text_dim": 4096, "freq_dim": 256,
    "ffn_dim": 13824, "num_layers": 40, "cross_attn_norm": true, "qk_norm": "rms_norm_across_heads", "eps": 1e-6,
    "rope_max_seq_len": 1024})");
  const auto model = create_model_from_dir(dir_);
  for (const auto& parameter : model->parameters()) ASSERT_TRUE(parameter.is_meta());
  const ModelMetadata metadata = model->metadata();
  EXPECT_GT(metadata.parameter_count, 14'000'000'000);
  EXPECT_LT(metadata.parameter_count, 14'500'000'000);
}

TEST_F(ModelDirTest, MissingDirectory) {
  const std::string message = message_of([&] { create_model_from_dir(dir_ / "absent"); });
  EXPECT_TRUE(has(message, "absent")) << message;
  EXPECT_TRUE(has(message, "does not exist")) << message;
}

TEST_F(ModelDirTest, MissingConfigJson) {
  const std::string message = message_of([&] { create_model_from_dir(dir_); });
  EXPECT_TRUE(has(message, "has no config.json")) << message;
}

TEST_F(ModelDirTest, MalformedJsonNamesTheFile) {
  write_config("{\"_class_name\": ");
  const std::string message = message_of([&] { create_model_from_dir(dir_); });
  EXPECT_TRUE(has(message, "config.json")) << message;
  EXPECT_TRUE(has(message, "not valid JSON")) << message;
}

TEST_F(ModelDirTest, ConfigWithoutClassName) {
  write_config("{\"hidden_size\": 32}");
  const std::string message = message_of([&] { create_model_from_dir(dir_); });
  EXPECT_TRUE(has(message, "_class_name")) << message;
}

TEST_F(ModelDirTest, UnknownClassNameListsTheSupportedClasses) {
  write_config("{\"_class_name\": \"SD3Transformer2DModel\"}");
  const std::string message = message_of([&] { create_model_from_dir(dir_); });
  EXPECT_TRUE(has(message, "'SD3Transformer2DModel'")) << message;
  EXPECT_TRUE(has(message, "supported classes: WanTransformer3DModel, FluxTransformer2DModel, TinyDiTModel"))
      << message;
}

// A part's config is read once, when the PartConfig is made: a loader handed it reads the file no more (here
// the file is gone by then, and the model is still built from what was read).
TEST_F(ModelDirTest, PartConfigReadsTheFileOnce) {
  write_config(R"({"_class_name": "TinyDiTModel", "hidden_size": 32, "num_attention_heads": 4})");
  const PartConfig part(dir_);
  std::remove((dir_ / "config.json").c_str());
  EXPECT_EQ(part.class_name(), "TinyDiTModel");
  EXPECT_EQ(part.path(), (dir_ / "config.json").string());
  EXPECT_EQ(create_model_from_dir(part)->class_name(), "TinyDiTModel");
  EXPECT_TRUE(has(message_of([&] { create_model_from_dir(dir_); }), "has no config.json"));
}

TEST_F(ModelDirTest, PartConfigNamesTheClassOfEitherLayout) {
  write_config(R"({"architectures": ["UMT5EncoderModel"], "d_model": 8})");  // transformers' way
  EXPECT_EQ(PartConfig(dir_).named_class(), "UMT5EncoderModel");
  write_config(R"({"architectures": ["A", "B"]})");
  EXPECT_TRUE(PartConfig(dir_).class_name().empty());
  const std::string none = message_of([&] { PartConfig(dir_).named_class(); });
  EXPECT_TRUE(has(none, "config.json names no class")) << none;
  write_config(R"({"_class_name": "AutoencoderKLWan"})");
  const std::string wrong = message_of([&] { PartConfig(dir_).check_class("AutoencoderKL"); });
  EXPECT_TRUE(has(wrong, "config.json names class \"AutoencoderKLWan\", expected \"AutoencoderKL\"")) << wrong;
}

TEST_F(ModelDirTest, BadConfigValueNamesTheKey) {
  write_config("{\"_class_name\": \"TinyDiTModel\", \"hidden_size\": \"wide\"}");
  EXPECT_TRUE(has(message_of([&] { create_model_from_dir(dir_); }), "\"hidden_size\" must be an integer"));
  write_config("{\"_class_name\": \"TinyDiTModel\", \"hidden_size\": 30, \"num_attention_heads\": 4}");
  EXPECT_TRUE(has(message_of([&] { create_model_from_dir(dir_); }), "must be a multiple of"));
}

}  // namespace
}  // namespace tessera
