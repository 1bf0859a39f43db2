#include "launch/attention_heads.h"

#include <numeric>

#include "common/check.h"
#include "src/models/model_registry.h"
#include "src/pipelines/pipeline.h"
#include "src/pipelines/pipeline_index.h"

namespace tessera::cli {

namespace {

int64_t model_attention_heads(const std::string& model_dir) {
  // The model as its config describes it (shape-only parameters): its class says which entry holds the heads.
  const auto model = create_model_from_dir(model_dir);
  for (const auto& [key, value] : model->config_entries()) {
    if (key != "num_attention_heads") continue;
    try {
      return std::stoll(value);
    } catch (const std::exception&) {
      break;
    }
  }
  TESSERA_CHECK(false, model->class_name(), " in ", model_dir, " does not give its number of attention heads ",
                "(\"num_attention_heads\"), from which the degrees of parallelism are chosen; give --ulysses and --ring");
  return 0;
}

}  // namespace

int64_t attention_heads(const std::string& dir) {
  if (!is_pipeline_dir(dir)) return model_attention_heads(dir);
  // Every transformer of the pipeline (Wan2.2's two experts): a count that divides each one's heads divides this.
  const PipelineIndex index = read_pipeline_index(dir);
  int64_t heads = 0;
  for (const std::string& part : Pipeline::transformer_parts_of(index)) {
    heads = std::gcd(heads, model_attention_heads(index.part_dir(part)));
  }
  return heads;
}

}  // namespace tessera::cli
