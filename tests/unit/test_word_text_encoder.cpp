// The embedded model's tokenizer and text encoder (src/models/text/).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "src/models/text/word_text_encoder.h"
#include "src/models/text/word_tokenizer.h"
#include "tests/parity/parity_check.h"
#include "tests/unit/error_message.h"
#include "tests/unit/scratch_dir.h"

namespace tessera {
namespace {

using tessera::testing::close_relative_to_scale;

WordTokenizer small_tokenizer() { return WordTokenizer({"red", "circle", "top", "left"}, 4); }

TEST(WordTokenizer, MapsWordsToIdsAndPads) {
  const WordTokenizer tokenizer = small_tokenizer();
  EXPECT_EQ(tokenizer.vocab_size(), 5);
  EXPECT_EQ(tokenizer.word_ids("Red, circle  TOP left."), (std::vector<int64_t>{1, 2, 3, 4}));
  const TokenizedPrompts tokens = tokenizer.tokenize({"left red", ""});
  const at::Tensor expected = at::tensor({4, 1, 0, 0, 0, 0, 0, 0}, at::kLong).view({2, 4});
  EXPECT_TRUE(at::equal(tokens.ids, expected)) << tokens.ids;
  EXPECT_EQ(tokens.mask.sum().item<int64_t>(), 2);
}

TEST(WordTokenizer, UnknownWordListsTheVocabularyAndLongPromptsAreRefused) {
  const WordTokenizer tokenizer = small_tokenizer();
  const std::string unknown = message_of([&] { tokenizer.word_ids("red dog"); });
  EXPECT_TRUE(has(unknown, "unknown word 'dog'")) << unknown;
  EXPECT_TRUE(has(unknown, "red circle top left")) << unknown;
  const std::string long_prompt = message_of([&] { tokenizer.word_ids("red red red red red"); });
  EXPECT_TRUE(has(long_prompt, "5 words")) << long_prompt;
  EXPECT_TRUE(has(message_of([] { WordTokenizer({"a", "a"}, 2); }), "repeated"));
}

TEST(WordTokenizer, SavesAndLoads) {
  testing::ScratchDir dir;
  small_tokenizer().save(dir.path());
  const WordTokenizer loaded = WordTokenizer::load(dir.path());
  EXPECT_EQ(loaded.words(), small_tokenizer().words());
  EXPECT_EQ(loaded.max_length(), 4);
}

TEST(WordTextEncoder, ZeroPastThePromptFiniteForTheEmptyPromptAndRoundTrips) {
  at::manual_seed(0);
  WordTextEncoderConfig config;
  config.vocab_size = 5;
  config.max_length = 4;
  config.dim = 16;
  config.num_heads = 2;
  WordTextEncoder encoder(small_tokenizer(), std::make_shared<WordEncoderModule>(config));
  const PromptEmbeddings embeddings = encoder.encode({"red circle", ""});
  ASSERT_EQ(embeddings.embeddings.sizes(), at::IntArrayRef({2, 4, 16}));
  EXPECT_TRUE(embeddings.embeddings.isfinite().all().item<bool>());
  EXPECT_EQ(embeddings.embeddings[0].slice(0, 2).abs().max().item<float>(), 0.0f);
  EXPECT_GT(embeddings.embeddings[0].slice(0, 0, 2).abs().max().item<float>(), 0.1f);
  EXPECT_EQ(embeddings.embeddings[1].abs().max().item<float>(), 0.0f);
  // Word order matters: the positions are learned.
  const at::Tensor swapped = encoder.encode({"circle red"}).embeddings;
  EXPECT_GT((swapped[0][0] - embeddings.embeddings[0][1]).abs().max().item<float>(), 1e-3f);

  testing::ScratchDir dir;
  encoder.save(dir.file(""), dir.file(""));
  const auto loaded = WordTextEncoder::load(dir.path(), dir.path(), c10::Device(c10::kCPU));
  EXPECT_TRUE(close_relative_to_scale(loaded->encode({"red circle", ""}).embeddings, embeddings.embeddings));
  EXPECT_TRUE(has(message_of([&] { loaded->check_prompt("blue circle"); }), "unknown word 'blue'"));
}

}  // namespace
}  // namespace tessera
