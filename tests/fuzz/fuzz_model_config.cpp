// A model directory's config.json: PartConfig (the one read of a part's config, and the class it names) and the
// WanTransformer3DModel config check must refuse bad files with tessera::Error. Any other exception, crash or
// sanitizer report is a finding.
#include <nlohmann/json.hpp>

#include "common/check.h"
#include "scratch_file.h"
#include "src/models/part_config.h"
#include "src/models/wan/wan_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& dir = tessera::fuzz::write_scratch_file("config.json", data, size);
  try {
    const tessera::PartConfig config(dir);
    try {
      config.named_class();
    } catch (const tessera::Error&) {
    }
    tessera::wan_config_from_json(config.json()).entries();
  } catch (const tessera::Error&) {
  }
  return 0;
}
