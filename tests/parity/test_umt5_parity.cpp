// UMT5 (Wan's text encoder) against transformers and diffusers on the fixtures scripts/make_fixtures.py (part
// "umt5") builds: the encoder's last hidden state, the tokenizer's ids, prompt_clean's text, and the
// TextEncoder's embeddings against WanPipeline._get_t5_prompt_embeds; then the errors bad files give.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>

#include "parity_check.h"
#include "src/io/json_file.h"
#include "src/io/safetensors.h"
#include "src/models/text/prompt_clean.h"
#include "src/models/text/sentencepiece_tokenizer.h"
#include "src/models/umt5/umt5_encoder.h"
#include "src/models/umt5/umt5_text_encoder.h"
#include "tests/unit/error_message.h"
#include "tests/unit/scratch_dir.h"

namespace tessera::testing {
namespace {

const std::string kUmt5Fixtures = std::string(TESSERA_FIXTURES_DIR) + "/umt5/";
const std::string kTokenizerDir = kUmt5Fixtures + "tokenizer";

// The relative error, for the record in the test log.
void report(const std::string& what, const at::Tensor& actual, const at::Tensor& expected) {
  std::cout << what << ": max abs error relative to max abs " << relative_error(actual, expected) << "\n";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

class Umt5Parity : public ::testing::TestWithParam<std::string> {
 protected:
  std::string dir() const { return kUmt5Fixtures + GetParam(); }
  at::Tensor expected(const std::string& name) const {
    return io::SafetensorsFile(dir() + "/expected.safetensors").load(name);
  }
  c10::InferenceMode inference_;
};

TEST_P(Umt5Parity, LastHiddenStateOnPaddedBatch) {
  const auto encoder = load_umt5_encoder(dir() + "/text_encoder", at::kFloat, c10::Device(c10::kCPU));
  const at::Tensor hidden = encoder->forward(expected("input_ids"), expected("attention_mask"));
  report(GetParam() + " masked", hidden, expected("last_hidden_state"));
  EXPECT_TRUE(close_relative_to_scale(hidden, expected("last_hidden_state")));
  const at::Tensor unmasked = encoder->forward(expected("input_ids"), at::Tensor());
  report(GetParam() + " unmasked", unmasked, expected("last_hidden_state_unmasked"));
  EXPECT_TRUE(close_relative_to_scale(unmasked, expected("last_hidden_state_unmasked")));
  // The mask must matter on this batch, or the first check proves nothing about it.
  EXPECT_FALSE(close_relative_to_scale(hidden, unmasked, 1e-3));
}

TEST_P(Umt5Parity, TextEncoderMatchesWanPipeline) {
  const nlohmann::json description = io::read_json_object(dir() + "/case.json");
  const auto text_encoder = Umt5TextEncoder::load(dir() + "/text_encoder", kTokenizerDir, at::kFloat,
                                                  c10::Device(c10::kCPU), description.at("max_length").get<int64_t>());
  EXPECT_EQ(text_encoder->class_name(), "UMT5EncoderModel");
  const PromptEmbeddings embeddings = text_encoder->encode(description.at("prompts").get<std::vector<std::string>>());
  report(GetParam() + " prompt embeddings", embeddings.embeddings, expected("prompt_embeds"));
  EXPECT_TRUE(close_relative_to_scale(embeddings.embeddings, expected("prompt_embeds")));
  EXPECT_TRUE(at::equal(embeddings.mask, expected("prompt_mask")));
  EXPECT_EQ(embeddings.embeddings.scalar_type(), at::kFloat);
  // Exactly zero past each prompt's tokens.
  EXPECT_EQ(embeddings.embeddings.masked_select(embeddings.mask.logical_not().unsqueeze(-1)).abs().sum().item<double>(),
            0.0);
  EXPECT_EQ(text_encoder->encode({}).embeddings.size(0), 0);
}

TEST_P(Umt5Parity, Bfloat16WithinTolerance) {
  const auto encoder = load_umt5_encoder(dir() + "/text_encoder", at::kBFloat16, c10::Device(c10::kCPU));
  const at::Tensor hidden = encoder->forward(expected("input_ids"), expected("attention_mask"));
  EXPECT_EQ(hidden.scalar_type(), at::kBFloat16);
  report(GetParam() + " bf16", hidden, expected("last_hidden_state"));
  EXPECT_TRUE(close_relative_to_scale(hidden, expected("last_hidden_state"), 3e-2));
}

// transformers writes the embedding once ("shared.weight"); checkpoints that also hold its tied copy
// ("encoder.embed_tokens.weight", as older exports do) load the same.
TEST_P(Umt5Parity, CheckpointWithTiedEmbeddingCopy) {
  ScratchDir scratch("umt5_tied");
  const std::string source_dir = dir() + "/text_encoder";
  std::ofstream(scratch.file("config.json")) << std::ifstream(source_dir + "/config.json").rdbuf();
  const io::SafetensorsFile weights(source_dir + "/model.safetensors");
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const std::string& name : weights.names()) tensors.emplace_back(name, weights.load(name));
  tensors.emplace_back("encoder.embed_tokens.weight", weights.load("shared.weight"));
  io::save_safetensors(scratch.file("model.safetensors"), tensors);
  const auto encoder = load_umt5_encoder(scratch.path(), at::kFloat, c10::Device(c10::kCPU));
  EXPECT_TRUE(close_relative_to_scale(encoder->forward(expected("input_ids"), expected("attention_mask")),
                                      expected("last_hidden_state")));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Umt5Parity, ::testing::Values("gated_gelu", "relu"));

TEST(Umt5Tokenizer, IdsAndMaskEqualT5TokenizerFast) {
  const SentencePieceTokenizer tokenizer = SentencePieceTokenizer::load(kTokenizerDir);
  const nlohmann::json cases = nlohmann::json::parse(read_file(kUmt5Fixtures + "tokenizer_cases.json"));
  ASSERT_GT(cases.size(), 30u);
  for (const auto& entry : cases) {
    const std::string cleaned = entry.at("cleaned").get<std::string>();
    const TokenizedPrompt tokens = tokenizer.encode(cleaned, entry.at("max_length").get<int64_t>());
    EXPECT_EQ(tokens.ids, entry.at("ids").get<std::vector<int64_t>>()) << "prompt: " << cleaned;
    EXPECT_EQ(tokens.mask, entry.at("mask").get<std::vector<int64_t>>()) << "prompt: " << cleaned;
  }
}

TEST(Umt5PromptClean, EqualsWanPipelinePromptClean) {
  const nlohmann::json cases = nlohmann::json::parse(read_file(kUmt5Fixtures + "prompt_clean_cases.json"));
  ASSERT_GT(cases.size(), 25u);
  for (const auto& entry : cases) {
    const std::string text = entry.at("text").get<std::string>();
    EXPECT_EQ(prompt_clean(text), entry.at("cleaned").get<std::string>()) << "text: " << text;
  }
}

TEST(Umt5Errors, TokenizerFolderWithoutSpieceModel) {
  ScratchDir scratch("umt5_tokenizer");
  EXPECT_TRUE(has(message_of([&] { SentencePieceTokenizer::load(scratch.path()); }),
                  "no SentencePiece model " + scratch.file("spiece.model")));
}

TEST(Umt5Errors, CorruptSpieceModel) {
  ScratchDir scratch("umt5_tokenizer");
  write_file(scratch.file("spiece.model"), read_file(kTokenizerDir + "/spiece.model").substr(0, 1000) + "garbage");
  const std::string message = message_of([&] { SentencePieceTokenizer::load(scratch.path()); });
  EXPECT_TRUE(has(message, "cannot read SentencePiece model " + scratch.file("spiece.model"))) << message;
  EXPECT_TRUE(has(message, "damaged or not a SentencePiece model")) << message;
}

TEST(Umt5Errors, InvalidUtf8Prompt) {
  const auto text_encoder = Umt5TextEncoder::load(kUmt5Fixtures + "gated_gelu/text_encoder", kTokenizerDir,
                                                  at::kFloat, c10::Device(c10::kCPU), 8);
  EXPECT_TRUE(has(message_of([&] { text_encoder->check_prompt("caf\xc3"); }), "prompt is not valid UTF-8 (byte 3)"));
  EXPECT_NO_THROW(text_encoder->check_prompt("any 🐱 text, a word outside the vocabulary: zyxwvut"));
}

// Copies the gated_gelu text encoder folder (config.json, model.safetensors) into `scratch`.
void copy_text_encoder(const ScratchDir& scratch) {
  for (const std::string name : {"config.json", "model.safetensors"}) {
    write_file(scratch.file(name), read_file(kUmt5Fixtures + "gated_gelu/text_encoder/" + name));
  }
}

TEST(Umt5Errors, TruncatedSafetensors) {
  ScratchDir scratch("umt5_text_encoder");
  copy_text_encoder(scratch);
  const std::string weights = read_file(scratch.file("model.safetensors"));
  write_file(scratch.file("model.safetensors"), weights.substr(0, weights.size() / 2));
  const std::string message =
      message_of([&] { load_umt5_encoder(scratch.path(), at::kFloat, c10::Device(c10::kCPU)); });
  EXPECT_TRUE(has(message, scratch.file("model.safetensors"))) << message;
  EXPECT_TRUE(has(message, "truncated")) << message;
}

TEST(Umt5Errors, WrongShapedTensor) {
  ScratchDir scratch("umt5_text_encoder");
  copy_text_encoder(scratch);
  nlohmann::json config = io::read_json_object(scratch.file("config.json"));
  config["d_ff"] = 41;
  write_file(scratch.file("config.json"), config.dump());
  const std::string message =
      message_of([&] { load_umt5_encoder(scratch.path(), at::kFloat, c10::Device(c10::kCPU)); });
  EXPECT_TRUE(has(message, "tensors have the wrong shape")) << message;
  EXPECT_TRUE(has(message, "tensor 'encoder.block.0.layer.1.DenseReluDense.wi_0.weight' in " +
                               scratch.file("model.safetensors") + " has shape [40, 32], the module expects [41, 32]"))
      << message;
}

TEST(Umt5Errors, ConfigWithoutModelWidth) {
  ScratchDir scratch("umt5_text_encoder");
  copy_text_encoder(scratch);
  nlohmann::json config = io::read_json_object(scratch.file("config.json"));
  config.erase("d_model");
  write_file(scratch.file("config.json"), config.dump());
  EXPECT_TRUE(has(message_of([&] { load_umt5_encoder(scratch.path(), at::kFloat, c10::Device(c10::kCPU)); }),
                  "UMT5 config " + scratch.file("config.json") + " lacks \"d_model\""));
  config["d_model"] = "32";
  write_file(scratch.file("config.json"), config.dump());
  EXPECT_TRUE(has(message_of([&] { load_umt5_encoder(scratch.path(), at::kFloat, c10::Device(c10::kCPU)); }),
                  "\"d_model\""));
}

}  // namespace
}  // namespace tessera::testing
