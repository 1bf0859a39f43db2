#include "launch/attention_heads.h"

#include "common/check.h"
#include "src/models/model_registry.h"
#include "src/pipelines/pipeline_index.h"

namespace tessera::cli {

int64_t attention_heads(const std::string& dir) {
  const std::string model_dir = is_pipeline_dir(dir) ? read_pipeline_index(dir).part_dir("transformer") : dir;
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

}  // namespace tessera::cli
