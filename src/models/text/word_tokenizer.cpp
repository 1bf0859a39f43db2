#include "src/models/text/word_tokenizer.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/check.h"
#include "common/join.h"
#include "src/io/json_file.h"
#include "src/io/json_integer.h"
#include "src/models/config_limits.h"
#include "src/models/text/prompt_words.h"

namespace tessera {
WordTokenizer::WordTokenizer(const std::vector<std::string>& words, int64_t max_length)
    : words_(words), max_length_(max_length) {
  TESSERA_CHECK(max_length >= 1, "a tokenizer's max length must be at least 1, got ", max_length);
  for (size_t i = 0; i < words_.size(); ++i) {
    TESSERA_CHECK(!words_[i].empty() && words_[i] != kPadToken && ids_.count(words_[i]) == 0,
                  "the vocabulary has an empty, reserved or repeated word '", words_[i], "'");
    ids_[words_[i]] = static_cast<int64_t>(i) + 1;
  }
}

WordTokenizer WordTokenizer::load(const std::string& dir) {
  const nlohmann::json vocab =
      io::read_json_object(dir + "/vocab.json", "a word tokenizer folder holds vocab.json and tokenizer_config.json");
  const nlohmann::json config = io::read_json_object(dir + "/tokenizer_config.json");
  TESSERA_CHECK(!vocab.empty(), dir, "/vocab.json must map words to ids");
  std::vector<std::string> words(vocab.size() - 1);
  for (const auto& [word, id] : vocab.items()) {
    const auto index = io::json_integer<int64_t>(id, dir + "/vocab.json: the id of '" + word + "'", 0,
                                                 static_cast<int64_t>(vocab.size()) - 1);
    if (index == 0) {
      TESSERA_CHECK(word == kPadToken, dir, "/vocab.json: id 0 is the padding token ", kPadToken, ", not '", word, "'");
      continue;
    }
    TESSERA_CHECK(words[index - 1].empty(), dir, "/vocab.json: id ", index, " is given twice");
    words[index - 1] = word;
  }
  const auto length = config.find("model_max_length");
  TESSERA_CHECK(length != config.end(), dir, "/tokenizer_config.json needs an integer \"model_max_length\"");
  return WordTokenizer(words, io::json_integer<int64_t>(*length, dir + "/tokenizer_config.json \"model_max_length\"",
                                                        1, kMaxConfigDimension));
}

void WordTokenizer::save(const std::string& dir) const {
  nlohmann::ordered_json vocab;
  vocab[kPadToken] = 0;
  for (size_t i = 0; i < words_.size(); ++i) vocab[words_[i]] = i + 1;
  write_file_atomically(dir + "/vocab.json", vocab.dump(2) + "\n");
  nlohmann::ordered_json config = {{"tokenizer_class", "WordTokenizer"}, {"model_max_length", max_length_}};
  write_file_atomically(dir + "/tokenizer_config.json", config.dump(2) + "\n");
}

std::vector<int64_t> WordTokenizer::word_ids(const std::string& prompt) const {
  std::vector<int64_t> ids;
  for (const std::string& word : prompt_words(prompt)) {
    const auto found = ids_.find(word);
    TESSERA_CHECK(found != ids_.end(), "unknown word '", word, "' in the prompt \"", prompt,
                  "\"; this model knows only: ", join(words_, " "));
    ids.push_back(found->second);
  }
  TESSERA_CHECK(static_cast<int64_t>(ids.size()) <= max_length_, "the prompt \"", prompt, "\" has ", ids.size(),
                " words; this model reads at most ", max_length_);
  return ids;
}

TokenizedPrompts WordTokenizer::tokenize(const std::vector<std::string>& prompts) const {
  const auto count = static_cast<int64_t>(prompts.size());
  at::Tensor ids = at::zeros({count, max_length_}, at::kLong);
  auto access = ids.accessor<int64_t, 2>();
  for (int64_t i = 0; i < count; ++i) {
    const auto words = word_ids(prompts[i]);
    for (size_t j = 0; j < words.size(); ++j) access[i][static_cast<int64_t>(j)] = words[j];
  }
  return {ids, ids.ne(0)};
}

}  // namespace tessera
