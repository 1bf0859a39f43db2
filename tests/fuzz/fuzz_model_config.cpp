// A model directory's config.json: read_model_config, config_class_name and the WanTransformer3DModel config
// check must refuse bad files with tessera::Error. Any other exception, crash or sanitizer report is a finding.
#include <nlohmann/json.hpp>

#include "common/check.h"
#include "scratch_file.h"
#include "src/models/model_config.h"
#include "src/models/wan/wan_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& dir = tessera::fuzz::write_scratch_file("config.json", data, size);
  try {
    const nlohmann::json config = tessera::read_model_config(dir);
    try {
      tessera::config_class_name(config, dir);
    } catch (const tessera::Error&) {
    }
    tessera::wan_config_from_json(config).entries();
  } catch (const tessera::Error&) {
  }
  return 0;
}
