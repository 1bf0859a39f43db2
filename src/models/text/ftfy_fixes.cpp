#include "src/models/text/ftfy_fixes.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <unordered_map>

#include "common/check.h"
#include "src/models/text/html_unescape.h"
#include "src/models/text/unicode_text.h"

namespace tessera {
namespace {

std::u32string normalize(const std::u32string& text, bool compatibility) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* normalizer =
      compatibility ? icu::Normalizer2::getNFKCInstance(status) : icu::Normalizer2::getNFCInstance(status);
  TESSERA_CHECK(U_SUCCESS(status), "ICU has no Unicode normalization data: ", u_errorName(status));
  const std::string utf8 = code_points_to_utf8(text);
  const icu::UnicodeString normalized = normalizer->normalize(icu::UnicodeString::fromUTF8(utf8), status);
  TESSERA_CHECK(U_SUCCESS(status), "ICU could not normalize the prompt: ", u_errorName(status));
  std::string result;
  normalized.toUTF8String(result);
  return utf8_to_code_points(result, "ICU's normalized text");
}

// Halfwidth and fullwidth forms (U+FF01-U+FFEF) to what NFKC makes of them, and the ideographic space to ' '.
const std::unordered_map<char32_t, std::u32string>& width_map() {
  static const std::unordered_map<char32_t, std::u32string> map = [] {
    std::unordered_map<char32_t, std::u32string> result{{0x3000, U" "}};
    for (char32_t c = 0xff01; c < 0xfff0; ++c) {
      const std::u32string standard = normalize(std::u32string(1, c), /*compatibility=*/true);
      if (standard != std::u32string(1, c)) result.emplace(c, standard);
    }
    return result;
  }();
  return map;
}

// Latin typographic ligatures and legacy digraph code points, split into their letters (not æ or œ, which
// are letters of their own).
const std::unordered_map<char32_t, std::u32string>& ligatures() {
  static const std::unordered_map<char32_t, std::u32string> map = {
      {U'\u0132', U"IJ"},       {U'\u0133', U"ij"},       {U'\u0149', U"\u02bcn"},  {U'\u01f1', U"DZ"},
      {U'\u01f2', U"Dz"},       {U'\u01f3', U"dz"},       {U'\u01c4', U"D\u017d"},  {U'\u01c5', U"D\u017e"},
      {U'\u01c6', U"d\u017e"},  {U'\u01c7', U"LJ"},       {U'\u01c8', U"Lj"},       {U'\u01c9', U"lj"},
      {U'\u01ca', U"NJ"},       {U'\u01cb', U"Nj"},       {U'\u01cc', U"nj"},       {U'\ufb00', U"ff"},
      {U'\ufb01', U"fi"},       {U'\ufb02', U"fl"},       {U'\ufb03', U"ffi"},      {U'\ufb04', U"ffl"},
      {U'\ufb05', U"\u017ft"},  {U'\ufb06', U"st"}};
  return map;
}

std::u32string translate(const std::u32string& text, const std::unordered_map<char32_t, std::u32string>& map) {
  std::u32string result;
  for (const char32_t c : text) {
    const auto found = map.find(c);
    if (found == map.end()) {
      result += c;
    } else {
      result += found->second;
    }
  }
  return result;
}

std::u32string fix_c1_controls(std::u32string text) {
  for (char32_t& c : text) {
    if (c >= 0x80 && c <= 0x9f) c = windows_1252_high(c);
  }
  return text;
}

std::u32string uncurl_quotes(std::u32string text) {
  for (char32_t& c : text) {
    if (c == 0x02bc || (c >= 0x2018 && c <= 0x201b)) c = U'\'';
    if (c >= 0x201c && c <= 0x201f) c = U'"';
  }
  return text;
}

std::u32string fix_line_breaks(const std::u32string& text) {
  std::u32string result;
  for (size_t i = 0; i < text.size(); ++i) {
    const char32_t c = text[i];
    if (c == U'\r' && i + 1 < text.size() && text[i + 1] == U'\n') continue;  // CRLF: its LF follows
    result += (c == U'\r' || c == 0x2028 || c == 0x2029 || c == 0x85) ? U'\n' : c;
  }
  return result;
}

// ESC '[' then digits (any Unicode decimal digit, as Python's \d) and ';', then an ASCII letter.
std::u32string remove_terminal_escapes(const std::u32string& text) {
  std::u32string result;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == 0x1b && i + 1 < text.size() && text[i + 1] == U'[') {
      size_t end = i + 2;
      while (end < text.size() && (text[end] == U';' || u_charType(static_cast<UChar32>(text[end])) ==
                                                            U_DECIMAL_DIGIT_NUMBER)) {
        ++end;
      }
      const bool letter = end < text.size() && ((text[end] >= U'a' && text[end] <= U'z') ||
                                                (text[end] >= U'A' && text[end] <= U'Z'));
      if (letter) {
        i = end + 1;
        continue;
      }
    }
    result += text[i++];
  }
  return result;
}

// ASCII controls other than tab, line feed, form feed and carriage return; deprecated format characters;
// the byte order mark; interlinear annotation and object replacement characters.
bool unwanted_control(char32_t c) {
  return c <= 0x08 || c == 0x0b || (c >= 0x0e && c <= 0x1f) || c == 0x7f || (c >= 0x206a && c <= 0x206f) ||
         c == 0xfeff || (c >= 0xfff9 && c <= 0xfffc);
}

std::u32string remove_control_chars(const std::u32string& text) {
  std::u32string result;
  for (const char32_t c : text) {
    if (!unwanted_control(c)) result += c;
  }
  return result;
}

// One segment (a line with its '\n'), fixed until the fixes change nothing more, as ftfy.fix_and_explain.
std::u32string fix_segment(std::u32string text, bool unescape_html) {
  while (true) {
    const std::u32string before = text;
    if (unescape_html) text = ftfy_unescape_html(text);
    text = fix_c1_controls(std::move(text));
    text = translate(text, ligatures());
    text = translate(text, width_map());
    text = uncurl_quotes(std::move(text));
    text = fix_line_breaks(text);
    text = remove_terminal_escapes(text);
    text = remove_control_chars(text);
    text = normalize(text, /*compatibility=*/false);
    if (text == before) return text;
  }
}

}  // namespace

std::u32string ftfy_fix_text(const std::u32string& text) {
  std::u32string result;
  // ftfy stops unescaping HTML from the first line that holds '<' (it may be markup) to the end of the text.
  bool unescape_html = true;
  size_t start = 0;
  while (start < text.size()) {
    const size_t newline = text.find(U'\n', start);
    const size_t end = newline == std::u32string::npos ? text.size() : newline + 1;
    const std::u32string segment = text.substr(start, end - start);
    if (segment.find(U'<') != std::u32string::npos) unescape_html = false;
    result += fix_segment(segment, unescape_html);
    start = end;
  }
  return result;
}

}  // namespace tessera
