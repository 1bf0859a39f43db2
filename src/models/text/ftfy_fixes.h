#pragma once
// ftfy.fix_text with its default settings, less mojibake repair (see prompt_clean.h for what is reproduced).
#include <string>

namespace tessera {

std::u32string ftfy_fix_text(const std::u32string& text);

}  // namespace tessera
