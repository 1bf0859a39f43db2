#include "src/models/text/bpe_tokenizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <limits>
#include <sstream>

#include "common/check.h"
#include "src/io/json_file.h"
#include "src/models/text/clip_text_split.h"
#include "src/models/text/unicode_text.h"

namespace tessera {
namespace {

constexpr size_t kCacheCapacity = 10000;  // words; as the tokenizers library's BPE cache

uint64_t pair_key(int64_t left, int64_t right) {
  return (static_cast<uint64_t>(left) << 32) | static_cast<uint64_t>(right);
}

// GPT-2's printable stand-in for each byte: printable Latin-1 bytes stand for themselves, the rest take the code
// points from U+0100 on, in byte order.
std::vector<std::string> byte_symbols() {
  std::vector<std::string> symbols(256);
  char32_t next = 256;
  for (int byte = 0; byte < 256; ++byte) {
    const bool printable = (byte >= '!' && byte <= '~') || (byte >= 0xa1 && byte <= 0xac) || byte >= 0xae;
    symbols[byte] = code_points_to_utf8(std::u32string(1, printable ? static_cast<char32_t>(byte) : next++));
  }
  return symbols;
}

std::string read_text_file(const std::string& path, const std::string& hint) {
  std::ifstream file(path, std::ios::binary);
  TESSERA_CHECK(file.good(), "cannot open ", path, "; ", hint);
  std::ostringstream content;
  content << file.rdbuf();
  return content.str();
}

// A special token as tokenizer_config.json or special_tokens_map.json gives it: a string or an AddedToken dict.
struct TokenEntry {
  std::string content;
  int normalized;  // 1 or 0 when the entry says, -1 when not
};

TokenEntry token_entry(const nlohmann::json& value, const std::string& key, const std::string& path) {
  if (value.is_string()) return {.content = value.get<std::string>(), .normalized = -1};
  TESSERA_CHECK(value.is_object() && value.contains("content") && value.at("content").is_string(), path, " \"",
                key, "\" must be a string or an object with a string \"content\", got ", value.dump());
  int normalized = -1;
  if (value.contains("normalized")) {
    TESSERA_CHECK(value.at("normalized").is_boolean(), path, " \"", key, "\".normalized must be true or false");
    normalized = value.at("normalized").get<bool>() ? 1 : 0;
  }
  return {.content = value.at("content").get<std::string>(), .normalized = normalized};
}

}  // namespace

BpeTokenizer::BpeTokenizer(BpeTokenizer&&) noexcept = default;
BpeTokenizer& BpeTokenizer::operator=(BpeTokenizer&&) noexcept = default;
BpeTokenizer::~BpeTokenizer() = default;

BpeTokenizer BpeTokenizer::load(const std::string& tokenizer_dir) {
  BpeTokenizer tokenizer;
  tokenizer.path_ = tokenizer_dir;
  tokenizer.cache_mutex_ = std::make_unique<std::mutex>();
  const std::string hint = "a CLIP tokenizer folder (FLUX's tokenizer/) holds vocab.json and merges.txt";

  const std::string vocab_path = tokenizer_dir + "/vocab.json";
  const nlohmann::json vocab = io::read_json_object(vocab_path, hint);
  for (const auto& [token, id] : vocab.items()) {
    TESSERA_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0 && id.get<int64_t>() < (int64_t{1} << 31),
                  vocab_path, " gives \"", token, "\" the id ", id.dump(), "; ids are integers from 0");
    tokenizer.vocab_.emplace(token, id.get<int64_t>());
    tokenizer.vocab_size_ = std::max(tokenizer.vocab_size_, id.get<int64_t>() + 1);
  }

  const std::string merges_path = tokenizer_dir + "/merges.txt";
  std::istringstream merges(read_text_file(merges_path, hint));
  std::string line;
  int64_t line_number = 0, rank = 0;
  while (std::getline(merges, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (line_number == 1 && line.rfind("#version", 0) == 0)) continue;
    const size_t space = line.find(' ');
    TESSERA_CHECK(space != std::string::npos && space > 0 && space + 1 < line.size() &&
                      line.find(' ', space + 1) == std::string::npos,
                  merges_path, " line ", line_number, " is not two symbols separated by one space: \"", line, "\"");
    const std::string left = line.substr(0, space), right = line.substr(space + 1);
    const auto lookup = [&](const std::string& token) {
      const auto found = tokenizer.vocab_.find(token);
      TESSERA_CHECK(found != tokenizer.vocab_.end(), merges_path, " line ", line_number, " uses \"", token,
                    "\", which ", vocab_path, " lacks; the two files are not from the same tokenizer");
      return found->second;
    };
    const int64_t left_id = lookup(left), right_id = lookup(right), merged_id = lookup(left + right);
    tokenizer.merges_.emplace(pair_key(left_id, right_id), std::make_pair(rank++, merged_id));
  }

  // Special tokens: tokenizer_config.json first, then special_tokens_map.json, then CLIPTokenizer's defaults.
  nlohmann::json config = nlohmann::json::object(), special_map = nlohmann::json::object();
  const std::string config_path = tokenizer_dir + "/tokenizer_config.json";
  const std::string map_path = tokenizer_dir + "/special_tokens_map.json";
  if (std::ifstream(config_path).good()) config = io::read_json_object(config_path);
  if (std::ifstream(map_path).good()) special_map = io::read_json_object(map_path);
  if (config.contains("model_max_length") && config.at("model_max_length").is_number_integer()) {
    // Tokenizers saved without a limit write a huge sentinel; FluxPipeline then still asks for its 77.
    const auto length = config.at("model_max_length").get<int64_t>();
    if (length >= 2 && length <= 1 << 20) tokenizer.model_max_length_ = length;
  }
  // added_tokens_decoder: id -> AddedToken; every one is matched in the text before BPE.
  std::unordered_map<std::string, std::pair<int64_t, int>> added;
  if (config.contains("added_tokens_decoder")) {
    const auto& decoder = config.at("added_tokens_decoder");
    TESSERA_CHECK(decoder.is_object(), config_path, " \"added_tokens_decoder\" must be an object");
    for (const auto& [id_text, value] : decoder.items()) {
      const TokenEntry entry = token_entry(value, "added_tokens_decoder." + id_text, config_path);
      int64_t id = -1;
      try {
        id = std::stoll(id_text);
      } catch (const std::exception&) {
      }
      TESSERA_CHECK(id >= 0 && id < (int64_t{1} << 31), config_path, " \"added_tokens_decoder\" key \"", id_text,
                    "\" is not a token id");
      added[entry.content] = {id, entry.normalized};
      tokenizer.vocab_size_ = std::max(tokenizer.vocab_size_, id + 1);
    }
  }
  const auto special = [&](const std::string& key, const std::string& fallback) {
    TokenEntry entry{.content = fallback, .normalized = -1};
    if (config.contains(key) && !config.at(key).is_null()) {
      entry = token_entry(config.at(key), key, config_path);
    } else if (special_map.contains(key) && !special_map.at(key).is_null()) {
      entry = token_entry(special_map.at(key), key, map_path);
    }
    if (entry.normalized < 0 && special_map.contains(key) && special_map.at(key).is_object()) {
      const TokenEntry mapped = token_entry(special_map.at(key), key, map_path);
      if (mapped.content == entry.content) entry.normalized = mapped.normalized;
    }
    int64_t id = -1;
    if (const auto found = tokenizer.vocab_.find(entry.content); found != tokenizer.vocab_.end()) id = found->second;
    const auto added_entry = added.find(entry.content);
    if (added_entry != added.end()) {
      id = added_entry->second.first;
    } else {
      added[entry.content] = {id, entry.normalized};
    }
    TESSERA_CHECK(id >= 0, "the ", key, " \"", entry.content, "\" of tokenizer ", tokenizer_dir, " is neither in ",
                  vocab_path, " nor in ", config_path, "'s added_tokens_decoder");
    if (added[entry.content].second < 0) added[entry.content].second = entry.normalized;
    return id;
  };
  tokenizer.bos_id_ = special("bos_token", "<|startoftext|>");
  tokenizer.eos_id_ = special("eos_token", "<|endoftext|>");
  tokenizer.pad_id_ = special("pad_token", "<|endoftext|>");
  tokenizer.unk_id_ = special("unk_token", "<|endoftext|>");
  for (const auto& [content, id_and_flag] : added) {
    TESSERA_CHECK(!content.empty(), "tokenizer ", tokenizer_dir, " defines an empty special token");
    // transformers' rule: an AddedToken that does not say is matched on the text as typed.
    tokenizer.special_tokens_.push_back(
        {.content = utf8_to_code_points(content, "special token"), .id = id_and_flag.first, .normalized = id_and_flag.second == 1});
  }
  std::sort(tokenizer.special_tokens_.begin(), tokenizer.special_tokens_.end(), [](const auto& a, const auto& b) {
    return a.content.size() != b.content.size() ? a.content.size() > b.content.size() : a.content < b.content;
  });
  tokenizer.byte_symbols_ = byte_symbols();
  return tokenizer;
}

std::vector<int64_t> BpeTokenizer::merge(std::vector<int64_t> symbols) const {
  while (symbols.size() > 1) {
    // The pair of lowest rank; every occurrence of it is merged, left to right.
    int64_t best_rank = std::numeric_limits<int64_t>::max(), left = -1, right = -1, merged = -1;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      const auto found = merges_.find(pair_key(symbols[i], symbols[i + 1]));
      if (found != merges_.end() && found->second.first < best_rank) {
        best_rank = found->second.first;
        left = symbols[i];
        right = symbols[i + 1];
        merged = found->second.second;
      }
    }
    if (merged < 0) break;
    std::vector<int64_t> next;
    next.reserve(symbols.size());
    for (size_t i = 0; i < symbols.size(); ++i) {
      if (i + 1 < symbols.size() && symbols[i] == left && symbols[i + 1] == right) {
        next.push_back(merged);
        ++i;
      } else {
        next.push_back(symbols[i]);
      }
    }
    symbols = std::move(next);
  }
  return symbols;
}

std::vector<int64_t> BpeTokenizer::word_ids(const std::string& word) const {
  {
    const std::lock_guard<std::mutex> lock(*cache_mutex_);
    if (const auto cached = cache_.find(word); cached != cache_.end()) return cached->second;
  }
  std::vector<int64_t> symbols;
  symbols.reserve(word.size());
  for (size_t i = 0; i < word.size(); ++i) {
    std::string symbol = byte_symbols_[static_cast<unsigned char>(word[i])];
    if (i + 1 == word.size()) symbol += "</w>";
    const auto found = vocab_.find(symbol);
    symbols.push_back(found != vocab_.end() ? found->second : unk_id_);
  }
  std::vector<int64_t> ids = merge(std::move(symbols));
  const std::lock_guard<std::mutex> lock(*cache_mutex_);
  if (cache_.size() < kCacheCapacity) cache_.emplace(word, ids);
  return ids;
}

std::vector<int64_t> BpeTokenizer::token_ids(const std::string& text) const {
  std::vector<int64_t> ids;
  // Splits `piece` on the special tokens matched at this stage; the rest goes to `plain`.
  const auto split_special = [&](const std::u32string& piece, bool normalized, const auto& plain) {
    size_t start = 0, at = 0;
    while (at < piece.size()) {
      const BpeSpecialToken* match = nullptr;
      for (const auto& special : special_tokens_) {
        if (special.normalized != normalized) continue;
        if (piece.compare(at, special.content.size(), special.content) == 0) {
          match = &special;
          break;
        }
      }
      if (match == nullptr) {
        ++at;
        continue;
      }
      plain(piece.substr(start, at - start));
      ids.push_back(match->id);
      at += match->content.size();
      start = at;
    }
    plain(piece.substr(start));
  };
  const auto encode_words = [&](const std::u32string& normalized) {
    for (const auto& word : clip_split_words(normalized)) {
      const std::vector<int64_t> word_tokens = word_ids(code_points_to_utf8(word));
      ids.insert(ids.end(), word_tokens.begin(), word_tokens.end());
    }
  };
  split_special(utf8_to_code_points(text, "prompt"), /*normalized=*/false, [&](const std::u32string& raw) {
    if (!raw.empty()) split_special(clip_normalize(raw), /*normalized=*/true, encode_words);
  });
  return ids;
}

std::vector<int64_t> BpeTokenizer::encode(const std::string& text, int64_t max_length) const {
  TESSERA_CHECK(max_length >= 2, "CLIP tokenizer max_length must be at least 2 (start and end tokens), got ",
                max_length);
  std::vector<int64_t> ids = token_ids(text);
  if (static_cast<int64_t>(ids.size()) > max_length - 2) ids.resize(max_length - 2);
  ids.insert(ids.begin(), bos_id_);
  ids.push_back(eos_id_);
  ids.resize(max_length, pad_id_);
  return ids;
}

}  // namespace tessera
