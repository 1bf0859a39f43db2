// The configs of a Wan pipeline's text encoder (transformers' UMT5) and VAE (diffusers' AutoencoderKLWan): bad
// files must be refused with tessera::Error. Any other exception, crash or sanitizer report is a finding.
#include <nlohmann/json.hpp>

#include "common/check.h"
#include "src/io/json_file.h"
#include "src/models/umt5/umt5_config.h"
#include "src/models/wan_vae/wan_vae_config.h"
#include "scratch_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = tessera::fuzz::write_scratch_file("config.json", data, size) + "/config.json";
  try {
    const nlohmann::json config = tessera::io::read_json_object(path);
    try {
      tessera::umt5_config_from_json(config, path);
    } catch (const tessera::Error&) {
    }
    tessera::wan_vae_config_from_json(config, path);
  } catch (const tessera::Error&) {
  }
  return 0;
}
