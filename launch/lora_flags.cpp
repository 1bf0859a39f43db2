#include "launch/lora_flags.h"

#include "common/log.h"
#include "src/models/model.h"

namespace tessera::cli {

void fuse_loras(Model& transformer, const std::vector<lora::ScaledLora>& loras, bool report) {
  lora::fuse_loras(transformer, loras, transformer.class_name());
  if (!report) return;
  for (const auto& lora : loras) {
    TESSERA_LOG_INFO("fused LoRA ", lora.file.path, " (", lora::format_name(lora.file.format), ", ",
                     lora.file.layers.size(), " adapted module(s)) at scale ", lora.scale);
  }
}

}  // namespace tessera::cli
