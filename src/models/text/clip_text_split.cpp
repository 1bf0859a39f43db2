#include "src/models/text/clip_text_split.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>

#include "common/check.h"

namespace tessera {
namespace {

// The pattern's \s, \p{L} and \p{N}, as the tokenizers library's Oniguruma reads them on Unicode text.
bool is_space(char32_t c) { return u_isUWhiteSpace(static_cast<UChar32>(c)); }
bool is_letter(char32_t c) { return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_L_MASK) != 0; }
bool is_number(char32_t c) { return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_N_MASK) != 0; }
bool is_other(char32_t c) { return !is_space(c) && !is_letter(c) && !is_number(c); }

std::u32string to_code_points(const icu::UnicodeString& text) {
  std::u32string result;
  for (int32_t i = 0; i < text.length();) {
    const UChar32 c = text.char32At(i);
    result.push_back(static_cast<char32_t>(c));
    i += U16_LENGTH(c);
  }
  return result;
}

icu::UnicodeString from_code_points(const std::u32string& text) {
  return icu::UnicodeString::fromUTF32(reinterpret_cast<const UChar32*>(text.data()),
                                       static_cast<int32_t>(text.size()));
}

void append_lowercase(char32_t c, std::u32string& out) {
  if (c < 0x80) {
    out.push_back(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
    return;
  }
  // One code point alone: the full (SpecialCasing) mapping, no final-sigma context, like Rust's to_lowercase.
  UChar source[2];
  int32_t source_length = 0;
  U16_APPEND_UNSAFE(source, source_length, static_cast<UChar32>(c));
  UChar lowered[8];
  UErrorCode status = U_ZERO_ERROR;
  const int32_t length = u_strToLower(lowered, 8, source, source_length, "", &status);
  TESSERA_INTERNAL_ASSERT(U_SUCCESS(status) && length <= 8, "ICU lowercasing failed: ", u_errorName(status));
  for (int32_t i = 0; i < length;) {
    UChar32 lower;
    U16_NEXT(lowered, i, length, lower);
    out.push_back(static_cast<char32_t>(lower));
  }
}

// "'s", "'t", "'re", "'ve", "'m", "'ll", "'d" at `at`: its length, or 0.
size_t contraction_length(const std::u32string& text, size_t at) {
  if (text[at] != U'\'' || at + 1 >= text.size()) return 0;
  const char32_t next = text[at + 1];
  if (next == U's' || next == U't' || next == U'm' || next == U'd') return 2;
  if (at + 2 >= text.size()) return 0;
  const char32_t after = text[at + 2];
  if ((next == U'r' && after == U'e') || (next == U'v' && after == U'e') || (next == U'l' && after == U'l')) return 3;
  return 0;
}

template <typename Predicate>
size_t run_length(const std::u32string& text, size_t at, Predicate predicate) {
  size_t end = at;
  while (end < text.size() && predicate(text[end])) ++end;
  return end - at;
}

// One regex scan over `text`: at each place the first alternative that matches; whitespace is dropped.
// CLIP's pattern has the special tokens first and takes digits one at a time; GPT-2's takes digit runs.
void split_into(const std::u32string& text, bool clip_pattern, std::vector<std::u32string>& out) {
  static const std::u32string kSpecials[] = {U"<|startoftext|>", U"<|endoftext|>"};
  size_t at = 0;
  while (at < text.size()) {
    size_t length = 0;
    if (clip_pattern) {
      for (const auto& special : kSpecials) {
        if (text.compare(at, special.size(), special) == 0) {
          length = special.size();
          break;
        }
      }
    }
    if (length == 0) length = contraction_length(text, at);
    if (length == 0) {
      const char32_t c = text[at];
      if (is_letter(c)) {
        length = run_length(text, at, is_letter);
      } else if (is_number(c)) {
        length = clip_pattern ? 1 : run_length(text, at, is_number);
      } else if (is_space(c)) {
        ++at;
        continue;
      } else {
        length = run_length(text, at, is_other);
      }
    }
    out.push_back(text.substr(at, length));
    at += length;
  }
}

}  // namespace

std::u32string clip_normalize(const std::u32string& text) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
  TESSERA_INTERNAL_ASSERT(U_SUCCESS(status), "ICU has no NFC normalizer: ", u_errorName(status));
  const std::u32string composed = to_code_points(nfc->normalize(from_code_points(text), status));
  TESSERA_INTERNAL_ASSERT(U_SUCCESS(status), "ICU NFC failed: ", u_errorName(status));
  std::u32string result;
  result.reserve(composed.size());
  for (size_t i = 0; i < composed.size(); ++i) {
    if (is_space(composed[i])) {
      if (i == 0 || !is_space(composed[i - 1])) result.push_back(U' ');
      continue;
    }
    append_lowercase(composed[i], result);
  }
  return result;
}

std::vector<std::u32string> clip_split_words(const std::u32string& normalized) {
  std::vector<std::u32string> pieces, words;
  split_into(normalized, /*clip_pattern=*/true, pieces);
  for (const auto& piece : pieces) split_into(piece, /*clip_pattern=*/false, words);
  return words;
}

}  // namespace tessera
