#include "src/models/text/prompt_words.h"

#include <algorithm>
#include <cctype>

namespace tessera {

std::vector<std::string> prompt_words(std::string_view prompt) {
  std::vector<std::string> words;
  std::string word;
  for (const unsigned char c : prompt) {
    if (std::isalnum(c) || c >= 0x80) {
      word += static_cast<char>(std::tolower(c));
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

bool mentions_any_word(std::string_view prompt, const std::vector<std::string>& words) {
  const auto found = prompt_words(prompt);
  return std::any_of(found.begin(), found.end(), [&](const std::string& word) {
    return std::find(words.begin(), words.end(), word) != words.end();
  });
}

}  // namespace tessera
