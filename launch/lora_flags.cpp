#include "launch/lora_flags.h"

#include <utility>

#include "common/log.h"
#include "src/models/model.h"

namespace tessera::cli {

void fuse_loras(Model& transformer, const std::vector<lora::ScaledLora>& loras, bool report,
                lora::SavedWeights* saved) {
  lora::fuse_loras(transformer, loras, transformer.class_name(), saved);
  if (!report) return;
  for (const auto& lora : loras) {
    TESSERA_LOG_INFO("fused LoRA ", lora.file.path, " (", lora::format_name(lora.file.format), ", ",
                     lora.file.layers.size(), " adapted module(s)) at scale ", lora.scale);
  }
}

BatchLoras::BatchLoras(Model& transformer, std::vector<lora::LoraSpec> specs,
                       const std::vector<lora::ScaledLora>& loras, bool per_job, bool report)
    : transformer_(transformer), batch_(std::move(specs)), per_job_(per_job), report_(report) {
  fuse_loras(transformer_, loras, report_, per_job_ ? &saved_ : nullptr);
  current_ = batch_;
}

void BatchLoras::use(const std::optional<std::vector<lora::LoraSpec>>& job_loras) {
  const std::vector<lora::LoraSpec>& wanted = job_loras ? *job_loras : batch_;
  if (wanted == current_) return;
  TESSERA_INTERNAL_ASSERT(per_job_, "a job's own LoRAs in a batch that did not expect any");
  lora::restore_weights(transformer_, saved_);
  current_.clear();
  fuse_loras(transformer_, lora::read_loras(wanted), report_, &saved_);
  current_ = wanted;
}

}  // namespace tessera::cli
