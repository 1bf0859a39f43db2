#include "launch/lora_flags.h"

#include <utility>

#include "common/check.h"
#include "common/log.h"
#include "src/models/lora/lora_hooks.h"
#include "src/models/model.h"

namespace tessera::cli {

LoraMode parse_lora_mode(const std::string& text) {
  if (text == "fuse") return LoraMode::fuse;
  TESSERA_CHECK(text == "hooks", "--lora-mode '", text, "': use fuse (into the weights) or hooks (on the layers)");
  return LoraMode::hooks;
}

const char* lora_mode_name(LoraMode mode) { return mode == LoraMode::fuse ? "fused" : "hooked"; }

void apply_loras(Model& transformer, const std::vector<lora::ScaledLora>& loras, LoraMode mode, bool report,
                 lora::SavedWeights* saved) {
  if (mode == LoraMode::fuse) {
    lora::fuse_loras(transformer, loras, transformer.class_name(), saved);
  } else {
    lora::hook_loras(transformer, loras, transformer.class_name());
  }
  if (!report) return;
  for (const auto& lora : loras) {
    TESSERA_LOG_INFO(lora_mode_name(mode), " LoRA ", lora.file.path, " (", lora::format_name(lora.file.format), ", ",
                     lora.file.layers.size(), " adapted module(s)) at scale ", lora.scale);
  }
}

BatchLoras::BatchLoras(Model& transformer, std::vector<lora::LoraSpec> specs,
                       const std::vector<lora::ScaledLora>& loras, LoraMode mode, bool per_job, bool report)
    : transformer_(transformer), batch_(std::move(specs)), mode_(mode), per_job_(per_job), report_(report) {
  apply_loras(transformer_, loras, mode_, report_, per_job_ ? &saved_ : nullptr);
  current_ = batch_;
}

void BatchLoras::use(const std::optional<std::vector<lora::LoraSpec>>& job_loras) {
  const std::vector<lora::LoraSpec>& wanted = job_loras ? *job_loras : batch_;
  if (wanted == current_) return;
  TESSERA_INTERNAL_ASSERT(per_job_, "a job's own LoRAs in a batch that did not expect any");
  if (mode_ == LoraMode::fuse) {
    lora::restore_weights(transformer_, saved_);
  } else {
    lora::unhook_loras(transformer_);
  }
  current_.clear();
  apply_loras(transformer_, lora::read_loras(wanted), mode_, report_, &saved_);
  current_ = wanted;
}

}  // namespace tessera::cli
