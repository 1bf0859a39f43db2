#pragma once
// The one rule by which tessera splits a prompt into words (the word tokenizer, the embedded model's motion check
// and its caption parser): lower-cased runs of ASCII letters and digits, and of any non-ASCII bytes; everything
// else separates. "Moving-Right!" is "moving", "right".
#include <string>
#include <string_view>
#include <vector>

namespace tessera {

std::vector<std::string> prompt_words(std::string_view prompt);

// Whether any word of `prompt` is one of `words` (lower-case).
bool mentions_any_word(std::string_view prompt, const std::vector<std::string>& words);

}  // namespace tessera
