#pragma once
// The tokenizer of a closed vocabulary: one id per known word, 0 for padding. The embedded model's captions
// use a few dozen words, so a word list is the whole tokenizer; an unknown word is an error that lists them.
// On disk (a pipeline's tokenizer/ folder): vocab.json {"<pad>": 0, "red": 1, ...} and tokenizer_config.json
// {"model_max_length": 8}.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tessera {

struct TokenizedPrompts {
  at::Tensor ids;   // [prompts, max_length] int64, 0 past each prompt's words
  at::Tensor mask;  // [prompts, max_length] bool
};

class WordTokenizer {
 public:
  static constexpr const char* kPadToken = "<pad>";

  // `words` get ids 1, 2, ... in order.
  WordTokenizer(const std::vector<std::string>& words, int64_t max_length);
  static WordTokenizer load(const std::string& dir);
  void save(const std::string& dir) const;

  int64_t vocab_size() const { return static_cast<int64_t>(words_.size()) + 1; }
  int64_t max_length() const { return max_length_; }
  const std::vector<std::string>& words() const { return words_; }

  // Lower-cases and splits on blanks and punctuation. Throws tessera::Error naming an unknown word (and listing
  // the vocabulary) or a prompt with more than max_length words.
  std::vector<int64_t> word_ids(const std::string& prompt) const;
  TokenizedPrompts tokenize(const std::vector<std::string>& prompts) const;

 private:
  std::vector<std::string> words_;
  std::map<std::string, int64_t> ids_;
  int64_t max_length_;
};

}  // namespace tessera
