#include "src/pipelines/pipeline_registry.h"

#include <mutex>

#include "common/check.h"
#include "common/join.h"
#include "src/pipelines/flux/flux_pipeline.h"
#include "src/pipelines/pipeline.h"
#include "src/pipelines/pipeline_index.h"
#include "src/pipelines/wan/wan_image_to_video_pipeline.h"
#include "src/pipelines/wan/wan_pipeline.h"

namespace tessera {
namespace {

struct Family {
  std::string class_name, summary;
  PipelineFactory factory;
};

struct Registry {
  std::mutex mutex;
  std::vector<Family> families;
};

Registry& registry() {
  static Registry* instance = [] {
    auto* built_in = new Registry;
    built_in->families = {
        {.class_name = WanPipeline::kClassName,
         .summary = "Wan2.1 / Wan2.2 A14B text-to-video",
         .factory = [] { return std::make_unique<WanPipeline>(); }},
        {.class_name = WanImageToVideoPipeline::kClassName,
         .summary = "Wan2.1 / Wan2.2 image-to-video and first-and-last-frame",
         .factory = [] { return std::make_unique<WanImageToVideoPipeline>(); }},
        {.class_name = FluxPipeline::kClassName,
         .summary = "FLUX.1 text-to-image",
         .factory = [] { return std::make_unique<FluxPipeline>(); }},
    };
    return built_in;
  }();
  return *instance;
}

}  // namespace

void register_pipeline_family(const std::string& class_name, const std::string& summary, PipelineFactory factory) {
  Registry& families = registry();
  const std::lock_guard lock(families.mutex);
  for (Family& family : families.families) {
    if (family.class_name == class_name) {
      family = {.class_name = class_name, .summary = summary, .factory = std::move(factory)};
      return;
    }
  }
  families.families.push_back({.class_name = class_name, .summary = summary, .factory = std::move(factory)});
}

std::vector<std::string> pipeline_families() {
  Registry& families = registry();
  const std::lock_guard lock(families.mutex);
  std::vector<std::string> names;
  for (const Family& family : families.families) names.push_back(family.class_name + " (" + family.summary + ")");
  return names;
}

std::unique_ptr<Pipeline> make_pipeline(const PipelineIndex& index) {
  {
    Registry& families = registry();
    const std::lock_guard lock(families.mutex);
    for (const Family& family : families.families) {
      if (family.class_name == index.class_name) return family.factory();
    }
  }
  TESSERA_CHECK(false, "unknown pipeline class '", index.class_name, "' in ", index.dir, "/model_index.json; tessera runs ",
                join(pipeline_families(), ", "));
}

}  // namespace tessera
