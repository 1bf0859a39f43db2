#include "src/models/pixel_decoder.h"

#include <nlohmann/json.hpp>

#include "common/check.h"

namespace tessera {

std::unique_ptr<PixelDecoder> PixelDecoder::load(const PartConfig& folder) {
  folder.check_class(kClassName);
  TESSERA_CHECK(folder.json().value("out_channels", 3) == 3, folder.path(), ": a pixel decoder gives 3 channels (RGB)");
  return std::make_unique<PixelDecoder>();
}

}  // namespace tessera
