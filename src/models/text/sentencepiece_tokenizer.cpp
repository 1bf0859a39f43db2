#include "src/models/text/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>
#include <sys/stat.h>

#include <algorithm>

#include "common/check.h"
#include "src/models/text/unicode_text.h"

namespace tessera {
namespace {

bool is_regular_file(const std::string& path) {
  struct stat status {};
  return ::stat(path.c_str(), &status) == 0 && S_ISREG(status.st_mode);
}

// The id of T5's piece `piece`, which the model must define.
int64_t required_piece(const sentencepiece::SentencePieceProcessor& processor, const std::string& piece,
                       const std::string& path) {
  const int id = processor.PieceToId(piece);
  TESSERA_CHECK(processor.IdToPiece(id) == piece, "SentencePiece model ", path, " has no \"", piece,
                "\" piece; a T5 tokenizer needs it. Is this the tokenizer folder of a T5/UMT5 text encoder?");
  return id;
}

}  // namespace

SentencePieceTokenizer::SentencePieceTokenizer(SentencePieceTokenizer&&) noexcept = default;
SentencePieceTokenizer& SentencePieceTokenizer::operator=(SentencePieceTokenizer&&) noexcept = default;
SentencePieceTokenizer::~SentencePieceTokenizer() = default;

SentencePieceTokenizer SentencePieceTokenizer::load(const std::string& tokenizer_dir) {
  SentencePieceTokenizer tokenizer;
  tokenizer.path_ = tokenizer_dir + "/spiece.model";
  TESSERA_CHECK(is_regular_file(tokenizer.path_), "no SentencePiece model ", tokenizer.path_,
                ": the tokenizer folder of a T5/UMT5 text encoder (Wan's tokenizer/) holds spiece.model; ",
                "pass that folder or copy the file from the model's repository");
  tokenizer.processor_ = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const auto status = tokenizer.processor_->Load(tokenizer.path_);
  TESSERA_CHECK(status.ok(), "cannot read SentencePiece model ", tokenizer.path_, " (", status.ToString(),
                "); the file is damaged or not a SentencePiece model. Download it again.");
  tokenizer.eos_id_ = required_piece(*tokenizer.processor_, "</s>", tokenizer.path_);
  tokenizer.pad_id_ = required_piece(*tokenizer.processor_, "<pad>", tokenizer.path_);
  for (int id = 0; id < tokenizer.processor_->GetPieceSize(); ++id) {
    if (tokenizer.processor_->IsControl(id) || tokenizer.processor_->IsUnknown(id)) {
      tokenizer.special_pieces_.emplace_back(tokenizer.processor_->IdToPiece(id), id);
    }
  }
  // Longest first, so that of two pieces starting at one place the longer is matched (as the fast tokenizer).
  std::stable_sort(tokenizer.special_pieces_.begin(), tokenizer.special_pieces_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  return tokenizer;
}

int64_t SentencePieceTokenizer::vocab_size() const { return processor_->GetPieceSize(); }

std::vector<int64_t> SentencePieceTokenizer::piece_ids(const std::string& text) const {
  std::vector<int64_t> result;
  const auto encode_plain = [&](const std::string& plain) {
    std::vector<int> ids;
    const auto status = processor_->Encode(plain, &ids);
    TESSERA_CHECK(status.ok(), "SentencePiece (", path_, ") cannot encode the prompt: ", status.ToString());
    result.insert(result.end(), ids.begin(), ids.end());
  };
  size_t plain_start = 0, i = 0;
  while (i < text.size()) {
    const auto special = std::find_if(special_pieces_.begin(), special_pieces_.end(), [&](const auto& piece) {
      return !piece.first.empty() && text.compare(i, piece.first.size(), piece.first) == 0;
    });
    if (special == special_pieces_.end()) {
      ++i;
      continue;
    }
    encode_plain(text.substr(plain_start, i - plain_start));
    result.push_back(special->second);
    i += special->first.size();
    plain_start = i;
  }
  encode_plain(text.substr(plain_start));
  return result;
}

TokenizedPrompt SentencePieceTokenizer::encode(const std::string& text, int64_t max_length) const {
  TESSERA_CHECK(max_length >= 1, "tokenizer max_length must be at least 1 (room for \"</s>\"), got ", max_length);
  utf8_to_code_points(text, "prompt");  // SentencePiece would silently replace invalid bytes
  std::vector<int64_t> ids = piece_ids(text);
  if (static_cast<int64_t>(ids.size()) > max_length - 1) ids.resize(max_length - 1);
  ids.push_back(eos_id_);
  TokenizedPrompt result{.ids = ids, .mask = std::vector<int64_t>(ids.size(), 1)};
  result.ids.resize(max_length, pad_id_);
  result.mask.resize(max_length, 0);
  return result;
}

}  // namespace tessera
