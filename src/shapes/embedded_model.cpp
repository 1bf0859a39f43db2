#include "src/shapes/embedded_model.h"

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "common/check.h"
#include "common/join.h"
#include "src/models/model_registry.h"
#include "src/pipelines/pipeline_index.h"
#include "src/pipelines/pipeline_registry.h"
#include "src/shapes/shapes_pipeline.h"
#include "src/tiny/tiny_dit.h"

#ifndef TESSERA_SOURCE_DIR
#define TESSERA_SOURCE_DIR ""
#endif

namespace tessera {

void register_embedded_model() {
  register_pipeline_family(TesseraShapesPipeline::kClassName, "the embedded model",
                           [] { return std::make_unique<TesseraShapesPipeline>(); });
  register_model_class(TinyDiTModel::kClassName, [](const nlohmann::json& config) -> std::shared_ptr<Model> {
    return std::make_shared<TinyDiTModel>(tiny_dit_config_from_json(config));
  });
}

std::string embedded_model_dir() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("TESSERA_MODEL_DIR")) candidates.emplace_back(env);
  std::error_code error;
  const auto executable = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) candidates.push_back((executable.parent_path() / "../share/tessera/models/tessera-shapes").string());
  // (concat, not string +: GCC 12 warns falsely about the inlined copy of a literal-built string.)
  if (sizeof(TESSERA_SOURCE_DIR) > 1) candidates.push_back(detail::concat(TESSERA_SOURCE_DIR, "/models/tessera-shapes"));
  for (const auto& candidate : candidates) {
    if (is_pipeline_dir(candidate)) return std::filesystem::weakly_canonical(candidate).string();
  }
  TESSERA_CHECK(false, "the embedded default model was not found (looked in ", join(candidates),
                "); pass --model DIR or set TESSERA_MODEL_DIR to the tessera-shapes folder");
}

}  // namespace tessera
