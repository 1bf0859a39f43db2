#include "src/models/text/prompt_clean.h"

#include "src/models/text/ftfy_fixes.h"
#include "src/models/text/html_unescape.h"
#include "src/models/text/unicode_text.h"

namespace tessera {
namespace {

// Python's str.isspace, which is also what `\s` matches in a str pattern (Unicode 14, Python 3.11).
bool python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

std::u32string strip(const std::u32string& text) {
  size_t begin = 0, end = text.size();
  while (begin < end && python_space(text[begin])) ++begin;
  while (end > begin && python_space(text[end - 1])) --end;
  return text.substr(begin, end - begin);
}

}  // namespace

std::string prompt_clean(const std::string& text) {
  std::u32string cleaned = ftfy_fix_text(utf8_to_code_points(text, "prompt"));
  cleaned = strip(python_html_unescape(python_html_unescape(cleaned)));
  // Every run of whitespace becomes one space (re.sub(r"\s+", " ")), then strip again.
  std::u32string collapsed;
  bool in_space = false;
  for (const char32_t c : cleaned) {
    if (python_space(c)) {
      if (!in_space) collapsed += U' ';
      in_space = true;
    } else {
      collapsed += c;
      in_space = false;
    }
  }
  return code_points_to_utf8(strip(collapsed));
}

}  // namespace tessera
