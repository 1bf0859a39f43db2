#pragma once
// WanPipeline's prompt_clean (diffusers pipelines/wan): ftfy.fix_text with its default settings, html.unescape
// twice, every run of whitespace to one space, stripped. The text encoder sees the prompt only through it, so
// tessera must produce the same text for the same token ids.
//
// Reproduced: ftfy's HTML unescaping (named references ending in ';', their all-caps spellings, numeric
// references; skipped from the first line holding '<' on, as ftfy does), C1 controls read as Windows-1252, Latin
// ligatures split, fullwidth and halfwidth forms to standard width, curly quotes straightened, line breaks
// unified, terminal colour escapes and unwanted control characters removed, NFC, all repeated until nothing
// changes; Python's html.unescape rules exactly (semicolon-less legacy names, longest-prefix names, numeric
// references with their invalid-code-point rules); Python's `\s` and str.strip() whitespace.
// Not reproduced: ftfy's mojibake repair (text decoded with the wrong codec, such as "cafÃ©", stays as it is),
// and named references beyond HTML 4's set, &apos; and HTML5's legacy names ("&checkmark;" stays literal).
#include <string>

namespace tessera {

// `text` must be UTF-8; throws tessera::Error naming the byte offset otherwise.
std::string prompt_clean(const std::string& text);

}  // namespace tessera
