#pragma once
// Pipeline families by the class name model_index.json gives ("_class_name"), as diffusers' DiffusionPipeline
// picks its class. WanPipeline and FluxPipeline are built in; a family outside the library (the embedded model's
// TesseraShapesPipeline) registers itself. A new family is a class and one registration.
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tessera {

class Pipeline;
struct PipelineIndex;

using PipelineFactory = std::function<std::unique_ptr<Pipeline>()>;

// `summary` says what the family runs, for the error that lists them ("Wan2.1 text-to-video"). Registering a
// class name twice replaces the earlier family.
void register_pipeline_family(const std::string& class_name, const std::string& summary, PipelineFactory factory);

// A new, unloaded pipeline of the family `index` names; throws tessera::Error listing the families otherwise.
std::unique_ptr<Pipeline> make_pipeline(const PipelineIndex& index);

// "WanPipeline (Wan2.1 text-to-video)", ... in registration order.
std::vector<std::string> pipeline_families();

}  // namespace tessera
