// CLIP's BPE tokenizer (src/models/text/bpe_tokenizer) against transformers 5's CLIPTokenizer on the fixture
// scripts/fixtures/flux_text.py writes: ids of varied texts, padded and cut to 77, and the errors bad folders give.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>

#include "src/models/text/bpe_tokenizer.h"
#include "tests/unit/error_message.h"
#include "tests/unit/scratch_dir.h"

namespace tessera {
namespace {

const std::string kFixtures = std::string(TESSERA_TEST_FIXTURES_DIR) + "/flux_text/";
const std::string kTokenizerDir = kFixtures + "pipeline/tokenizer";

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, const std::string& content) { std::ofstream(path) << content; }

TEST(BpeTokenizer, EqualsClipTokenizerOnVariedTexts) {
  const BpeTokenizer tokenizer = BpeTokenizer::load(kTokenizerDir);
  EXPECT_EQ(tokenizer.model_max_length(), 77);
  EXPECT_EQ(tokenizer.pad_id(), tokenizer.eos_id());
  const nlohmann::json cases = nlohmann::json::parse(read_file(kFixtures + "tokenizer_cases.json"));
  ASSERT_GE(cases.size(), 30u);
  for (const auto& entry : cases) {
    const std::string text = entry.at("text").get<std::string>();
    std::vector<int64_t> expected = entry.at("ids").get<std::vector<int64_t>>();
    std::vector<int64_t> ids = tokenizer.token_ids(text);
    ids.insert(ids.begin(), tokenizer.bos_id());
    ids.push_back(tokenizer.eos_id());
    EXPECT_EQ(ids, expected) << "text: " << text;
    EXPECT_EQ(tokenizer.encode(text, 77), entry.at("padded_ids").get<std::vector<int64_t>>()) << "text: " << text;
  }
}

TEST(BpeTokenizer, SpecialTokenMarkedUnnormalizedMatchesOnlyAsTyped) {
  const BpeTokenizer tokenizer = BpeTokenizer::load(kFixtures + "tokenizer_raw_endoftext");
  const nlohmann::json cases = nlohmann::json::parse(read_file(kFixtures + "tokenizer_raw_endoftext_cases.json"));
  ASSERT_GE(cases.size(), 4u);
  for (const auto& entry : cases) {
    const std::string text = entry.at("text").get<std::string>();
    std::vector<int64_t> ids = tokenizer.token_ids(text);
    ids.insert(ids.begin(), tokenizer.bos_id());
    ids.push_back(tokenizer.eos_id());
    EXPECT_EQ(ids, entry.at("ids").get<std::vector<int64_t>>()) << "text: " << text;
  }
}

TEST(BpeTokenizer, CutsAndPadsToMaxLength) {
  const BpeTokenizer tokenizer = BpeTokenizer::load(kTokenizerDir);
  const std::vector<int64_t> empty = tokenizer.encode("", 5);
  EXPECT_EQ(empty, (std::vector<int64_t>{tokenizer.bos_id(), tokenizer.eos_id(), tokenizer.pad_id(),
                                         tokenizer.pad_id(), tokenizer.pad_id()}));
  const std::vector<int64_t> words = tokenizer.token_ids("a cat on a mat with a hat");
  const std::vector<int64_t> cut = tokenizer.encode("a cat on a mat with a hat", 4);
  EXPECT_EQ(cut, (std::vector<int64_t>{tokenizer.bos_id(), words[0], words[1], tokenizer.eos_id()}));
  EXPECT_TRUE(has(message_of([&] { tokenizer.encode("x", 1); }), "at least 2"));
}

TEST(BpeTokenizer, InvalidUtf8IsAnError) {
  const BpeTokenizer tokenizer = BpeTokenizer::load(kTokenizerDir);
  const std::string message = message_of([&] { tokenizer.token_ids("caf\xc3"); });
  EXPECT_TRUE(has(message, "not valid UTF-8 (byte 3)")) << message;
}

TEST(BpeTokenizer, BadFoldersNameTheFileAtFault) {
  testing::ScratchDir dir("bpe_tokenizer");
  EXPECT_TRUE(has(message_of([&] { BpeTokenizer::load(dir.path()); }), dir.file("vocab.json")));
  write_file(dir.file("vocab.json"), R"({"a": 0, "b": 1, "a</w>": 2, "b</w>": 3, "<|startoftext|>": 4,
                                         "<|endoftext|>": 5})");
  EXPECT_TRUE(has(message_of([&] { BpeTokenizer::load(dir.path()); }), dir.file("merges.txt")));
  write_file(dir.file("merges.txt"), "#version: 0.2\na b</w>\n");
  const std::string missing = message_of([&] { BpeTokenizer::load(dir.path()); });
  EXPECT_TRUE(has(missing, "line 2 uses \"ab</w>\"")) << missing;
  write_file(dir.file("merges.txt"), "#version: 0.2\na  b\n");
  EXPECT_TRUE(has(message_of([&] { BpeTokenizer::load(dir.path()); }), "line 2 is not two symbols"));
  write_file(dir.file("merges.txt"), "#version: 0.2\n");
  write_file(dir.file("tokenizer_config.json"), R"({"bos_token": "<s>"})");
  const std::string no_bos = message_of([&] { BpeTokenizer::load(dir.path()); });
  EXPECT_TRUE(has(no_bos, "bos_token \"<s>\"")) << no_bos;
  write_file(dir.file("tokenizer_config.json"), "{}");
  const BpeTokenizer tokenizer = BpeTokenizer::load(dir.path());
  EXPECT_EQ(tokenizer.bos_id(), 4);
  EXPECT_EQ(tokenizer.eos_id(), 5);
  // "c" is not in the vocabulary: each byte without a symbol becomes the unknown token (<|endoftext|>).
  EXPECT_EQ(tokenizer.token_ids("ab c"), (std::vector<int64_t>{0, 3, 5}));
}

}  // namespace
}  // namespace tessera
