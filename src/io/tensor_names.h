#pragma once
// Refusing tensors a reader does not take: a misspelt name (negative_prompt_embed) in an inputs file would
// otherwise be left out silently and change what runs.
#include <string>
#include <vector>

namespace tessera::io {

class SafetensorsFile;

// Throws tessera::Error naming the file, the first tensor of `file` that is not in `accepted`, `reader`
// (who refuses it, e.g. "tessera denoise") and `reads` (what it does read, e.g. "latents [B, C, F, H, W]").
void check_tensor_names(const SafetensorsFile& file, const std::vector<std::string>& accepted,
                        const std::string& reader, const std::string& reads);

}  // namespace tessera::io
