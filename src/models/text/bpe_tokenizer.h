#pragma once
// CLIP's byte-level BPE tokenizer (openai/clip-vit-large-patch14's, FLUX's tokenizer/) read from a tokenizer
// folder's vocab.json and merges.txt, tokenizing as transformers 5's CLIPTokenizer: its special tokens matched
// first (on the normalized text, or on the raw text for those marked "normalized": false), the rest normalized
// and split (clip_text_split.h), each word's UTF-8 bytes mapped to vocab.json's byte symbols, "</w>" appended to
// the last, and merges.txt applied lowest rank first.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace tessera {

struct BpeSpecialToken {
  std::u32string content;
  int64_t id;
  bool normalized;  // matched on the normalized (lowercased) text rather than as typed
};

class BpeTokenizer {
 public:
  // Reads `tokenizer_dir`/vocab.json and merges.txt, and the special tokens and model_max_length (77 when not
  // given) from tokenizer_config.json and special_tokens_map.json where present. Throws tessera::Error naming the
  // file for a missing or malformed file, a merge whose parts or result the vocabulary lacks, or a special token
  // it does not define.
  static BpeTokenizer load(const std::string& tokenizer_dir);
  BpeTokenizer(BpeTokenizer&&) noexcept;
  BpeTokenizer& operator=(BpeTokenizer&&) noexcept;
  ~BpeTokenizer();

  // The ids of `text` (UTF-8, tessera::Error otherwise) without the start and end tokens.
  std::vector<int64_t> token_ids(const std::string& text) const;
  // As the pipelines call it: padding="max_length", truncation=True: start token, the ids cut to max_length - 2,
  // end token, then the pad token up to max_length (>= 2).
  std::vector<int64_t> encode(const std::string& text, int64_t max_length) const;

  int64_t vocab_size() const { return vocab_size_; }
  int64_t model_max_length() const { return model_max_length_; }
  int64_t bos_id() const { return bos_id_; }
  int64_t eos_id() const { return eos_id_; }
  int64_t pad_id() const { return pad_id_; }

 private:
  BpeTokenizer() = default;
  // One pre-tokenized word (UTF-8) through the byte mapping and the merges, cached.
  std::vector<int64_t> word_ids(const std::string& word) const;
  std::vector<int64_t> merge(std::vector<int64_t> symbols) const;

  std::string path_;
  std::unordered_map<std::string, int64_t> vocab_;
  std::unordered_map<uint64_t, std::pair<int64_t, int64_t>> merges_;  // (left, right) ids -> (rank, merged id)
  std::vector<std::string> byte_symbols_;  // vocab.json's stand-in for each byte value
  std::vector<BpeSpecialToken> special_tokens_;  // longest first
  int64_t vocab_size_ = 0, model_max_length_ = 77;
  int64_t bos_id_ = -1, eos_id_ = -1, pad_id_ = -1, unk_id_ = -1;
  mutable std::unique_ptr<std::mutex> cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int64_t>> cache_;
};

}  // namespace tessera
