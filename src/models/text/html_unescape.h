#pragma once
// The two HTML unescapers prompt_clean runs, on code points: ftfy's cautious one (only references ending in ';')
// and Python's html.unescape (HTML5's parsing rules). Named references: HTML 4's set, &apos; and HTML5's legacy
// names (html_entities.inc); others (HTML5's "&checkmark;") stay as written.
#include <string>

namespace tessera {

// Python's html.unescape: "&amp" without ';', "&notit;" as "¬it;", numeric references with the standard's
// replacements (0x80-0x9F as Windows-1252, surrogates and out-of-range as U+FFFD, noncharacters dropped).
std::u32string python_html_unescape(const std::u32string& text);

// ftfy.fixes.unescape_html: "&name;" and "&#...;" only, plus all-caps names ("&EACUTE;" -> "É").
std::u32string ftfy_unescape_html(const std::u32string& text);

// The Windows-1252 character for the byte `c` in 0x80-0x9F (bytes it leaves undefined map to themselves): the
// reading of C1 controls that both html.unescape and ftfy use.
char32_t windows_1252_high(char32_t c);

}  // namespace tessera
