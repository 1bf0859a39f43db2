#include "src/models/text/unicode_text.h"

#include "common/check.h"

namespace tessera {

std::u32string utf8_to_code_points(const std::string& text, const std::string& what) {
  std::u32string result;
  result.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const size_t length =
        lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xe ? 3 : (lead >> 3) == 0x1e ? 4 : 0;
    bool valid = length != 0 && i + length <= text.size();
    char32_t code = length == 1 ? lead : length == 2 ? lead & 0x1f : length == 3 ? lead & 0x0f : lead & 0x07;
    for (size_t k = 1; valid && k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      valid = (next & 0xc0) == 0x80;
      code = (code << 6) | (next & 0x3f);
    }
    static constexpr char32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    valid = valid && code >= kSmallest[length] && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff);
    TESSERA_CHECK(valid, what, " is not valid UTF-8 (byte ", i, "); pass text encoded as UTF-8");
    result.push_back(code);
    i += length;
  }
  return result;
}

std::string code_points_to_utf8(const std::u32string& text) {
  std::string result;
  result.reserve(text.size());
  for (const char32_t code : text) {
    if (code < 0x80) {
      result += static_cast<char>(code);
    } else if (code < 0x800) {
      result += static_cast<char>(0xc0 | (code >> 6));
      result += static_cast<char>(0x80 | (code & 0x3f));
    } else if (code < 0x10000) {
      result += static_cast<char>(0xe0 | (code >> 12));
      result += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
      result += static_cast<char>(0x80 | (code & 0x3f));
    } else {
      result += static_cast<char>(0xf0 | (code >> 18));
      result += static_cast<char>(0x80 | ((code >> 12) & 0x3f));
      result += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
      result += static_cast<char>(0x80 | (code & 0x3f));
    }
  }
  return result;
}

}  // namespace tessera
