// A pipeline folder's model_index.json: read_pipeline_index must refuse bad files with tessera::Error. Any
// other exception, crash or sanitizer report is a finding.
#include "common/check.h"
#include "scratch_file.h"
#include "src/pipelines/pipeline_index.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& dir = tessera::fuzz::write_scratch_file("model_index.json", data, size);
  try {
    const tessera::PipelineIndex index = tessera::read_pipeline_index(dir);
    for (const auto& [name, part] : index.parts) index.part(name);
  } catch (const tessera::Error&) {
  }
  return 0;
}
