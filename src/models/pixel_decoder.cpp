#include "src/models/pixel_decoder.h"

#include <nlohmann/json.hpp>

#include "common/check.h"
#include "src/models/model_config.h"

namespace tessera {

std::unique_ptr<PixelDecoder> PixelDecoder::load(const std::string& dir) {
  const nlohmann::json config = read_model_config(dir);
  const std::string class_name = config_class_name(config, dir);
  TESSERA_CHECK(class_name == kClassName, dir, "/config.json names class '", class_name, "', expected ", kClassName);
  TESSERA_CHECK(config.value("out_channels", 3) == 3, dir, "/config.json: a pixel decoder gives 3 channels (RGB)");
  return std::make_unique<PixelDecoder>();
}

}  // namespace tessera
