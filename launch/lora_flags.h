#pragma once
// --lora on the CLI: the files, read before the model loads (generation_options.h parses the flags), applied to
// the transformer once it has loaded, fused into its weights or hooked on its linear layers (--lora-mode); in
// `tessera batch`, changed job by job.
#include <optional>
#include <string>
#include <vector>

#include "src/models/lora/lora_fuse.h"

namespace tessera {
class Model;
}

namespace tessera::cli {

// fuse: into the weights (a step runs as fast as without LoRA; a switch restores and fuses weights). hooks: an
// extra low-rank matmul per adapted layer and step, no weight changed (a switch moves no weight).
enum class LoraMode { fuse, hooks };
// "fuse" or "hooks"; anything else throws tessera::Error naming both.
LoraMode parse_lora_mode(const std::string& text);
const char* lora_mode_name(LoraMode mode);

// lora::fuse_loras or lora::hook_loras on `transformer`, and one line per LoRA on the log when `report` (rank 0).
// `saved` (fuse only) receives the weights the fuse changes.
void apply_loras(Model& transformer, const std::vector<lora::ScaledLora>& loras, LoraMode mode, bool report,
                 lora::SavedWeights* saved = nullptr);

// The LoRAs applied to a batch's transformer. The batch's own (--lora) are applied at once. A job with a "loras"
// field gets exactly those: the set before is taken off (fuse: the weights it changed put back from host copies,
// taken only when `per_job`, i.e. some job has its own set; hooks: its hooks removed), then the job's set is read
// and applied. Jobs in a row with the same set change nothing.
class BatchLoras {
 public:
  BatchLoras(Model& transformer, std::vector<lora::LoraSpec> specs, const std::vector<lora::ScaledLora>& loras,
             LoraMode mode, bool per_job, bool report);
  // Makes `job_loras` (nullopt: the batch's) the applied set. Throws tessera::Error when a file cannot be read or
  // does not fit; the transformer then runs as the base model.
  void use(const std::optional<std::vector<lora::LoraSpec>>& job_loras);

 private:
  Model& transformer_;
  std::vector<lora::LoraSpec> batch_, current_;
  lora::SavedWeights saved_;
  LoraMode mode_;
  bool per_job_, report_;
};

}  // namespace tessera::cli
