#pragma once
// --lora on the CLI: the files, read before the model loads (generation_options.h parses the flags), fused into
// the transformer once it has loaded; in `tessera batch`, changed job by job.
#include <optional>
#include <vector>

#include "src/models/lora/lora_fuse.h"

namespace tessera {
class Model;
}

namespace tessera::cli {

// lora::fuse_loras into `transformer`, and one line per LoRA on the log when `report` (rank 0).
void fuse_loras(Model& transformer, const std::vector<lora::ScaledLora>& loras, bool report,
                lora::SavedWeights* saved = nullptr);

// The LoRAs fused into a batch's transformer. The batch's own (--lora) are fused at once. A job with a "loras"
// field gets exactly those: the weights the set before changed are put back from host copies (taken only when
// `per_job`, i.e. some job has its own set), then the job's set is read and fused. Jobs in a row with the same
// set change nothing.
class BatchLoras {
 public:
  BatchLoras(Model& transformer, std::vector<lora::LoraSpec> specs, const std::vector<lora::ScaledLora>& loras,
             bool per_job, bool report);
  // Makes `job_loras` (nullopt: the batch's) the fused set. Throws tessera::Error when a file cannot be read or
  // does not fit; the transformer then has its base weights.
  void use(const std::optional<std::vector<lora::LoraSpec>>& job_loras);

 private:
  Model& transformer_;
  std::vector<lora::LoraSpec> batch_, current_;
  lora::SavedWeights saved_;
  bool per_job_, report_;
};

}  // namespace tessera::cli
