#pragma once
// --lora on the CLI: the files, read before the model loads (generation_options.h parses the flags), fused into
// the transformer once it has loaded.
#include <vector>

#include "src/models/lora/lora_fuse.h"

namespace tessera {
class Model;
}

namespace tessera::cli {

// lora::fuse_loras into `transformer`, and one line per LoRA on the log when `report` (rank 0).
void fuse_loras(Model& transformer, const std::vector<lora::ScaledLora>& loras, bool report);

}  // namespace tessera::cli
