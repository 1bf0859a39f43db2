#include "src/pipelines/pipeline_index.h"

#include <filesystem>

#include "common/check.h"
#include "src/io/json_file.h"

namespace tessera {

bool is_pipeline_dir(const std::string& dir) { return std::filesystem::is_regular_file(dir + "/model_index.json"); }

PipelineIndex read_pipeline_index(const std::string& dir) {
  const std::string path = dir + "/model_index.json";
  TESSERA_CHECK(is_pipeline_dir(dir), "no pipeline at ", dir, ": ", path, " is missing (a diffusers pipeline folder "
                "has a model_index.json and one folder per part)");
  PipelineIndex index;
  index.dir = dir;
  index.config = io::read_json_object(path);
  const auto class_name = index.config.find("_class_name");
  TESSERA_CHECK(class_name != index.config.end() && class_name->is_string(), path,
                " has no \"_class_name\" naming the pipeline class");
  index.class_name = class_name->get<std::string>();
  for (const auto& [key, value] : index.config.items()) {
    // A part is a [library, class] pair; [null, null] is a part the pipeline goes without.
    if (!value.is_array() || value.size() != 2) continue;
    if (value[0].is_null() && value[1].is_null()) continue;
    TESSERA_CHECK(value[0].is_string() && value[1].is_string(), path, ": part \"", key,
                  "\" must be [library, class], got ", value.dump());
    index.parts[key] = {value[0].get<std::string>(), value[1].get<std::string>()};
  }
  return index;
}

const PipelinePart& PipelineIndex::part(const std::string& name) const {
  const auto found = parts.find(name);
  TESSERA_CHECK(found != parts.end(), dir, "/model_index.json lists no \"", name, "\" part; the ", class_name,
                " pipeline needs one");
  return found->second;
}

std::string PipelineIndex::part_dir(const std::string& name) const {
  const PipelinePart& entry = part(name);
  const std::string folder = dir + "/" + name;
  TESSERA_CHECK(std::filesystem::is_directory(folder), "the ", name, " part (", entry.library, " ", entry.class_name,
                ") of the pipeline in ", dir, " has no folder ", folder);
  return folder;
}

}  // namespace tessera
