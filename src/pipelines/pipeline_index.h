#pragma once
// A pipeline folder in the diffusers layout: model_index.json names the pipeline class and, for each part,
// its library and class ("transformer": ["diffusers", "WanTransformer3DModel"]); each part lives in the
// folder of the same name.
#include <nlohmann/json.hpp>

#include <map>
#include <string>

namespace tessera {

struct PipelinePart {
  std::string library;
  std::string class_name;
};

struct PipelineIndex {
  std::string dir;
  std::string class_name;
  std::map<std::string, PipelinePart> parts;  // parts given as null in the file are left out
  nlohmann::json config;                      // the whole file, for pipeline-specific keys

  // The part's folder, which must exist: an error names the folder, the part and its class otherwise. The
  // part must be listed in model_index.json.
  std::string part_dir(const std::string& part) const;
  const PipelinePart& part(const std::string& name) const;
};

bool is_pipeline_dir(const std::string& dir);
// Throws tessera::Error naming the file for a missing or malformed model_index.json.
PipelineIndex read_pipeline_index(const std::string& dir);

}  // namespace tessera
