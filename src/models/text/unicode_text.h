#pragma once
// UTF-8 <-> code points for the text cleaning and tokenizing code, with an error that names the bad byte.
#include <string>

namespace tessera {

// Throws tessera::Error naming `what` and the offset of the first byte that is not valid UTF-8 (overlong
// forms, surrogates and code points past U+10FFFF included).
std::u32string utf8_to_code_points(const std::string& text, const std::string& what);
std::string code_points_to_utf8(const std::u32string& text);

}  // namespace tessera
