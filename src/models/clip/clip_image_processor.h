#pragma once
// transformers' CLIPImageProcessor as diffusers' WanImageToVideoPipeline calls it
// (image_processor(images=image, return_tensors="pt").pixel_values): resize, centre crop, rescale, normalise.
#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <string>

#include "src/io/frames.h"
#include "src/io/image_resample.h"

namespace tessera {

class ClipImageProcessor {
 public:
  // Reads `dir`/preprocessor_config.json. Throws naming the key and the file for keys or values it cannot honour.
  static ClipImageProcessor load(const std::string& dir);

  // One RGB frame to pixel_values: float32 [1, 3, crop_height, crop_width] on the CPU.
  at::Tensor preprocess(const io::FrameBuffer& image) const;

  int64_t crop_height() const { return crop_height_; }
  int64_t crop_width() const { return crop_width_; }

 private:
  bool do_resize_ = true;
  int64_t shortest_edge_ = 0;  // > 0: shortest edge to this many pixels; else resize to size_height_ x size_width_
  int64_t size_height_ = 0;
  int64_t size_width_ = 0;
  io::Resample resample_ = io::Resample::bicubic;
  bool do_center_crop_ = true;
  int64_t crop_height_ = 0;
  int64_t crop_width_ = 0;
  bool do_rescale_ = true;
  double rescale_factor_ = 1.0 / 255.0;
  bool do_normalize_ = true;
  std::array<double, 3> image_mean_{};
  std::array<double, 3> image_std_{};
};

}  // namespace tessera
