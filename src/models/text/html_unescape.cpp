#include "src/models/text/html_unescape.h"

#include <string_view>
#include <unordered_map>

#include "common/check.h"
#include "src/models/text/unicode_text.h"

namespace tessera {
namespace {

struct NamedReference {
  const char* name;  // without the '&'; with the ';' where the name needs one
  const char* text;  // UTF-8
};

#include "src/models/text/html_entities.inc"

using ReferenceTable = std::unordered_map<std::string, std::u32string>;

const ReferenceTable& python_references() {
  static const ReferenceTable table = [] {
    ReferenceTable result;
    for (const NamedReference& entry : kNamedReferences) {
      result.emplace(entry.name, utf8_to_code_points(entry.text, "HTML reference table"));
    }
    return result;
  }();
  return table;
}

// ftfy decodes only names that end in ';', and their all-caps spellings.
const ReferenceTable& ftfy_references() {
  static const ReferenceTable table = [] {
    ReferenceTable result;
    for (const auto& [name, text] : python_references()) {
      if (name.back() == ';') result.emplace(name, text);
    }
    for (const NamedReference& entry : kUpperCaseReferences) {
      result.emplace(entry.name, utf8_to_code_points(entry.text, "HTML reference table"));
    }
    return result;
  }();
  return table;
}

bool is_decimal(char32_t c) { return c >= U'0' && c <= U'9'; }
bool is_hex(char32_t c) { return is_decimal(c) || (c >= U'a' && c <= U'f') || (c >= U'A' && c <= U'F'); }
bool is_ascii_alphanumeric(char32_t c) { return is_decimal(c) || (c >= U'a' && c <= U'z') || (c >= U'A' && c <= U'Z'); }
int hex_value(char32_t c) { return is_decimal(c) ? c - U'0' : (c | 0x20) - U'a' + 10; }

// What Python's html.unescape makes of the numeric reference `number` (already capped past U+10FFFF).
std::u32string numeric_reference(uint64_t number) {
  if (number == 0) return U"\ufffd";
  if (number == 0x0d) return U"\r";
  if (number >= 0x80 && number <= 0x9f) return std::u32string(1, kWindows1252High[number - 0x80]);
  if ((number >= 0xd800 && number <= 0xdfff) || number > 0x10ffff) return U"\ufffd";
  const bool noncharacter = (number >= 0x1 && number <= 0x8) || number == 0xb || (number >= 0xe && number <= 0x1f) ||
                            (number >= 0x7f && number <= 0x9f) || (number >= 0xfdd0 && number <= 0xfdef) ||
                            (number & 0xfffe) == 0xfffe;
  if (noncharacter) return U"";
  return std::u32string(1, static_cast<char32_t>(number));
}

// Parses digits from `text[i]` on, advancing `i`; values past U+10FFFF saturate (all give U+FFFD).
uint64_t parse_number(const std::u32string& text, size_t& i, bool hex) {
  uint64_t number = 0;
  while (i < text.size() && (hex ? is_hex(text[i]) : is_decimal(text[i]))) {
    number = number * (hex ? 16 : 10) + (hex ? hex_value(text[i]) : text[i] - U'0');
    if (number > 0x110000) number = 0x110000;
    ++i;
  }
  return number;
}

std::string ascii_or_empty(const std::u32string& text) {
  std::string result;
  for (const char32_t c : text) {
    if (c >= 0x80) return "";  // every reference name is ASCII
    result += static_cast<char>(c);
  }
  return result;
}

}  // namespace

char32_t windows_1252_high(char32_t c) {
  TESSERA_INTERNAL_ASSERT(c >= 0x80 && c <= 0x9f, "windows_1252_high of ", static_cast<uint32_t>(c));
  return kWindows1252High[c - 0x80];
}

std::u32string python_html_unescape(const std::u32string& text) {
  std::u32string result;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != U'&') {
      result += text[i++];
      continue;
    }
    size_t end = i + 1;
    if (end < text.size() && text[end] == U'#') {
      const bool hex = end + 1 < text.size() && (text[end + 1] == U'x' || text[end + 1] == U'X') &&
                       end + 2 < text.size() && is_hex(text[end + 2]);
      size_t digits = end + (hex ? 2 : 1);
      if (digits >= text.size() || !(hex || is_decimal(text[digits]))) {
        result += text[i++];  // "&#" without digits is no reference
        continue;
      }
      const uint64_t number = parse_number(text, digits, hex);
      if (digits < text.size() && text[digits] == U';') ++digits;
      result += numeric_reference(number);
      i = digits;
      continue;
    }
    // A name: up to 32 characters other than whitespace, '<', '&', '#' and ';', then an optional ';'.
    static const std::u32string kStops = U"\t\n\f <&#;";
    while (end < text.size() && end - (i + 1) < 32 && kStops.find(text[end]) == std::u32string::npos) ++end;
    if (end == i + 1) {
      result += text[i++];
      continue;
    }
    if (end < text.size() && text[end] == U';') ++end;
    const std::u32string name = text.substr(i + 1, end - i - 1);
    const ReferenceTable& table = python_references();
    const auto whole = table.find(ascii_or_empty(name));
    if (whole != table.end()) {
      result += whole->second;
    } else {
      // The longest known prefix of at least two characters, the rest kept as written.
      bool found = false;
      for (size_t length = name.size() - 1; length >= 2 && !found; --length) {
        const auto prefix = table.find(ascii_or_empty(name.substr(0, length)));
        if (prefix != table.end()) {
          result += prefix->second + name.substr(length);
          found = true;
        }
      }
      if (!found) result += U'&' + name;
    }
    i = end;
  }
  return result;
}

std::u32string ftfy_unescape_html(const std::u32string& text) {
  std::u32string result;
  size_t i = 0;
  while (i < text.size()) {
    // "&", an optional "#", 1 to 24 ASCII letters or digits, ";".
    size_t end = i + 1;
    if (text[i] == U'&') {
      if (end < text.size() && text[end] == U'#') ++end;
      const size_t start = end;
      while (end < text.size() && is_ascii_alphanumeric(text[end])) ++end;
      const size_t length = end - start;
      if (length >= 1 && length <= 24 && end < text.size() && text[end] == U';') {
        const std::u32string reference = text.substr(i, end + 1 - i);
        const auto named = ftfy_references().find(ascii_or_empty(reference.substr(1)));
        if (named != ftfy_references().end()) {
          result += named->second;
        } else if (reference[1] == U'#') {
          // A numeric reference html.unescape decodes whole (its ';' consumed), or left as written.
          const std::u32string decoded = python_html_unescape(reference);
          result += decoded.find(U';') == std::u32string::npos ? decoded : reference;
        } else {
          result += reference;
        }
        i = end + 1;
        continue;
      }
    }
    result += text[i++];
  }
  return result;
}

}  // namespace tessera
