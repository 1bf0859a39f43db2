#pragma once
// The image input fixtures (scripts/fixtures/image_input.py): PIL's and transformers' outputs, and comparing pixels.
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>

#include "common/check.h"
#include "src/io/frames.h"
#include "src/io/safetensors.h"

namespace tessera::testing {

inline std::string image_input_dir() { return detail::concat(TESSERA_TEST_FIXTURES_DIR, "/image_input"); }

inline const io::SafetensorsFile& image_input_expected() {
  static const io::SafetensorsFile file(detail::concat(image_input_dir(), "/expected.safetensors"));
  return file;
}

inline nlohmann::json image_input_cases() {
  std::ifstream file(detail::concat(image_input_dir(), "/case.json"));
  return nlohmann::json::parse(file);
}

// A uint8 [height, width, 3] fixture tensor as one frame.
inline io::FrameBuffer frame_of(const at::Tensor& pixels) {
  const at::Tensor contiguous = pixels.contiguous();
  io::FrameBuffer frame = io::make_frames(1, contiguous.size(0), contiguous.size(1));
  std::copy_n(contiguous.data_ptr<uint8_t>(), frame.rgb.size(), frame.rgb.data());
  return frame;
}

// The largest difference between two frames' bytes; -1 when their sizes differ.
inline int max_pixel_difference(const io::FrameBuffer& got, const io::FrameBuffer& want) {
  if (got.frames != want.frames || got.height != want.height || got.width != want.width) return -1;
  int worst = 0;
  for (size_t i = 0; i < got.rgb.size(); ++i) worst = std::max(worst, std::abs(int{got.rgb[i]} - int{want.rgb[i]}));
  return worst;
}

}  // namespace tessera::testing
