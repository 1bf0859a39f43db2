#pragma once
// CLIPTokenizer's text handling before BPE (transformers 5's tokenizers backend): the normalizer (NFC, every run
// of Unicode White_Space to one space, per-character lowercasing) and the pre-tokenizer (CLIP's split into letter
// runs, single digits, runs of other symbols and English contractions, then ByteLevel's GPT-2 split of each piece).
#include <string>
#include <vector>

namespace tessera {

// NFC, whitespace runs to " ", then each code point's full lowercase mapping without context (as Rust's
// char::to_lowercase: "Σ" is always "σ").
std::u32string clip_normalize(const std::u32string& text);

// The words BPE sees, each still Unicode text (the byte-level mapping comes after): CLIP's regex
//   <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+
// keeping matches and dropping the rest, each match then split again by GPT-2's regex (which only separates a
// special token's text, when it reaches here unmatched, into "<|", its name and "|>").
std::vector<std::u32string> clip_split_words(const std::u32string& normalized);

}  // namespace tessera
