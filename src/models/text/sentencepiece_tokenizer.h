#pragma once
// T5's tokenizer (google/umt5-xxl's for Wan) read from the SentencePiece model in a transformers tokenizer
// folder (spiece.model), tokenizing as T5TokenizerFast with padding="max_length", truncation=True and
// add_special_tokens=True: the pieces' ids, cut to max_length - 1, then "</s>", then "<pad>" up to max_length.
// As the fast tokenizer, the control pieces' text ("</s>", "<pad>", "<unk>") typed in a prompt becomes that
// piece's id. Not reproduced: tokens that exist only in tokenizer.json's added_tokens (umt5's <extra_id_N>), which
// are tokenized as plain text.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace tessera {

struct TokenizedPrompt {
  std::vector<int64_t> ids;   // max_length of them
  std::vector<int64_t> mask;  // 1 on the prompt's tokens and "</s>", 0 on padding
};

class SentencePieceTokenizer {
 public:
  // Reads `tokenizer_dir`/spiece.model. Throws tessera::Error naming the file when it is missing or not a
  // SentencePiece model, or when it lacks T5's "</s>" or "<pad>" piece.
  static SentencePieceTokenizer load(const std::string& tokenizer_dir);
  SentencePieceTokenizer(SentencePieceTokenizer&&) noexcept;
  SentencePieceTokenizer& operator=(SentencePieceTokenizer&&) noexcept;
  ~SentencePieceTokenizer();

  // `text` as UTF-8 (tessera::Error otherwise); max_length >= 1.
  TokenizedPrompt encode(const std::string& text, int64_t max_length) const;
  int64_t vocab_size() const;
  int64_t eos_id() const { return eos_id_; }
  int64_t pad_id() const { return pad_id_; }

 private:
  SentencePieceTokenizer() = default;
  // The pieces' ids of `text`, control pieces written out in it matched first.
  std::vector<int64_t> piece_ids(const std::string& text) const;

  std::string path_;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  int64_t eos_id_ = -1;
  int64_t pad_id_ = -1;
  std::vector<std::pair<std::string, int64_t>> special_pieces_;  // longest first
};

}  // namespace tessera
