#include "src/models/clip/clip_image_processor.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <filesystem>
#include <set>
#include <string>

#include "common/check.h"
#include "src/io/json_file.h"
#include "src/io/json_integer.h"
#include "src/models/config_limits.h"

// Matches transformers 5.24's CLIPImageProcessorPil, the implementation CLIPImageProcessor.from_pretrained gives
// where torchvision is not installed (as in the diffusers environment the fixtures are made in): the image through
// PIL's resize as uint8, a centre crop (zero padding where smaller), then rescale in float64 cast to float32, and
// normalisation in float32.

namespace tessera {
namespace {

// Keys that only describe the processor (its class) and change nothing it computes.
const std::set<std::string> kDescriptiveKeys = {"image_processor_type", "feature_extractor_type", "processor_class",
                                                "_processor_class"};
const std::set<std::string> kHonouredKeys = {"do_resize",    "size",          "resample",  "do_center_crop",
                                             "crop_size",    "do_rescale",    "rescale_factor", "do_normalize",
                                             "image_mean",   "image_std",     "do_convert_rgb", "default_to_square",
                                             "do_pad",       "pad_size"};

// CLIP's (OpenAI's) normalisation, CLIPImageProcessor's default.
constexpr std::array<double, 3> kClipMean = {0.48145466, 0.4578275, 0.40821073};
constexpr std::array<double, 3> kClipStd = {0.26862954, 0.26130258, 0.27577711};

class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& config, std::string path) : config_(config), path_(std::move(path)) {}

  std::string what(const std::string& key) const { return detail::concat(path_, " \"", key, "\""); }

  bool flag(const std::string& key, bool fallback) const {
    if (!config_.contains(key)) return fallback;
    const auto& value = config_.at(key);
    TESSERA_CHECK(value.is_boolean(), what(key), " must be true or false, got ", value.dump());
    return value.get<bool>();
  }

  int64_t size(const nlohmann::json& value, const std::string& key) const {
    return io::json_integer<int64_t>(value, what(key), 1, kMaxConfigDimension);
  }

  double positive_number(const nlohmann::json& value, const std::string& key) const {
    TESSERA_CHECK(value.is_number() && value.get<double>() > 0.0, what(key), " must be a positive number, got ",
                  value.dump());
    return value.get<double>();
  }

  // A per-channel value: one number for all three channels or a list of three.
  std::array<double, 3> channels(const std::string& key, const std::array<double, 3>& fallback, bool positive) const {
    if (!config_.contains(key)) return fallback;
    const auto& value = config_.at(key);
    std::array<double, 3> result{};
    if (value.is_number()) {
      result.fill(value.get<double>());
    } else {
      TESSERA_CHECK(value.is_array() && value.size() == 3, what(key),
                    " must be a number or a list of 3 numbers (one per RGB channel), got ", value.dump());
      for (size_t c = 0; c < 3; ++c) {
        TESSERA_CHECK(value[c].is_number(), what(key), " must hold numbers, got ", value.dump());
        result[c] = value[c].get<double>();
      }
    }
    if (positive) {
      for (const double v : result) {
        TESSERA_CHECK(v > 0.0, what(key), " must be positive (it divides), got ", value.dump());
      }
    }
    return result;
  }

  const nlohmann::json& config() const { return config_; }
  const std::string& path() const { return path_; }

 private:
  const nlohmann::json& config_;
  std::string path_;
};

// Python's floor division, which transformers' centre crop uses for its offsets (negative when padding).
int64_t floor_div2(int64_t value) { return value >= 0 ? value / 2 : -((-value + 1) / 2); }

}  // namespace

ClipImageProcessor ClipImageProcessor::load(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "preprocessor_config.json").string();
  const nlohmann::json config = io::read_json_object(
      path, "; pass the image_processor/ folder of a Wan2.1 image-to-video pipeline (CLIPImageProcessor's config)");
  const ConfigReader read(config, path);
  for (const auto& [key, value] : config.items()) {
    TESSERA_CHECK(kDescriptiveKeys.count(key) != 0 || kHonouredKeys.count(key) != 0, read.what(key),
                  " is not a CLIPImageProcessor setting tessera knows; it reads do_resize, size, resample, "
                  "do_center_crop, crop_size, do_rescale, rescale_factor, do_normalize, image_mean, image_std, "
                  "do_convert_rgb (remove the key if it changes nothing)");
  }
  if (config.contains("image_processor_type")) {
    const auto& type = config.at("image_processor_type");
    TESSERA_CHECK(type == "CLIPImageProcessor" || type == "CLIPImageProcessorPil" || type == "CLIPImageProcessorFast",
                  read.what("image_processor_type"), " is ", type.dump(),
                  "; tessera implements CLIPImageProcessor only (Wan2.1 image-to-video's image_processor/)");
  }
  // What CLIPImageProcessor would do differently: pad the batch, or turn an integer size into a square.
  TESSERA_CHECK(!read.flag("do_pad", false), read.what("do_pad"),
                " is true: padding is not supported (one image is processed at a time); set it to false");
  TESSERA_CHECK(!read.flag("default_to_square", false), read.what("default_to_square"),
                " is true: not supported (CLIPImageProcessor resizes the shortest edge); remove the key");

  ClipImageProcessor processor;
  processor.do_resize_ = read.flag("do_resize", true);
  processor.shortest_edge_ = 224;
  if (config.contains("size")) {
    const auto& size = config.at("size");
    processor.shortest_edge_ = 0;
    if (size.is_number()) {
      processor.shortest_edge_ = read.size(size, "size");  // an integer size is the shortest edge for CLIP
    } else {
      TESSERA_CHECK(size.is_object(), read.what("size"),
                    " must be an integer or {\"shortest_edge\": N} or {\"height\": H, \"width\": W}, got ",
                    size.dump());
      std::set<std::string> keys;
      for (const auto& [key, value] : size.items()) keys.insert(key);
      if (keys == std::set<std::string>{"shortest_edge"}) {
        processor.shortest_edge_ = read.size(size.at("shortest_edge"), "size.shortest_edge");
      } else {
        TESSERA_CHECK(keys == (std::set<std::string>{"height", "width"}), read.what("size"), " is ", size.dump(),
                      "; supported are {\"shortest_edge\": N} and {\"height\": H, \"width\": W} (no longest_edge or "
                      "max_height/max_width)");
        processor.size_height_ = read.size(size.at("height"), "size.height");
        processor.size_width_ = read.size(size.at("width"), "size.width");
      }
    }
  }
  if (config.contains("resample")) {
    const auto& resample = config.at("resample");
    TESSERA_CHECK(resample.is_number_integer(), read.what("resample"),
                  " must be PIL's integer filter code (0 nearest, 1 lanczos, 2 bilinear, 3 bicubic), got ",
                  resample.dump());
    try {
      processor.resample_ = io::resample_from_pil(resample.get<int>());
    } catch (const Error& error) {
      TESSERA_CHECK(false, read.what("resample"), ": ", error.what());
    }
  }
  TESSERA_CHECK(read.flag("do_center_crop", true), read.what("do_center_crop"),
                " is false: not supported (the image encoder needs pixel_values of one fixed size); set it to true");
  processor.crop_height_ = processor.crop_width_ = 224;
  if (config.contains("crop_size")) {
    const auto& crop = config.at("crop_size");
    if (crop.is_number()) {
      processor.crop_height_ = processor.crop_width_ = read.size(crop, "crop_size");  // a square
    } else {
      TESSERA_CHECK(crop.is_object() && crop.size() == 2 && crop.contains("height") && crop.contains("width"),
                    read.what("crop_size"), " must be an integer or {\"height\": H, \"width\": W}, got ", crop.dump());
      processor.crop_height_ = read.size(crop.at("height"), "crop_size.height");
      processor.crop_width_ = read.size(crop.at("width"), "crop_size.width");
    }
  }
  processor.do_rescale_ = read.flag("do_rescale", true);
  if (config.contains("rescale_factor")) {
    processor.rescale_factor_ = read.positive_number(config.at("rescale_factor"), "rescale_factor");
  }
  processor.do_normalize_ = read.flag("do_normalize", true);
  processor.image_mean_ = read.channels("image_mean", kClipMean, false);
  processor.image_std_ = read.channels("image_std", kClipStd, true);
  // The input is RGB already (read_image converts), so converting to RGB changes nothing either way.
  read.flag("do_convert_rgb", true);
  return processor;
}

at::Tensor ClipImageProcessor::preprocess(const io::FrameBuffer& image) const {
  io::check_frames(image.view(), "the CLIP image processor");
  TESSERA_CHECK(image.frames == 1, "the CLIP image processor takes one image, got ", image.frames, " frames");
  io::FrameBuffer resized;
  const io::FrameBuffer* source = &image;
  if (do_resize_) {
    int64_t height = size_height_;
    int64_t width = size_width_;
    if (shortest_edge_ > 0) {
      // transformers' get_resize_output_image_size: the short side to N, the long side N * long / short truncated
      // (the quotient of two exact integers in double, as Python's true division).
      const int64_t shorter = std::min(image.height, image.width);
      const int64_t longer = std::max(image.height, image.width);
      const auto scaled = static_cast<int64_t>(static_cast<double>(shortest_edge_ * longer) /
                                               static_cast<double>(shorter));
      height = image.width <= image.height ? scaled : shortest_edge_;
      width = image.width <= image.height ? shortest_edge_ : scaled;
    }
    resized = io::resize_image(image, height, width, resample_);
    source = &resized;
  }
  // Centre crop: output row y reads source row y + floor((h - crop_h) / 2), zero outside the source (transformers
  // pads a smaller image with zeros, centred with the extra pixel after).
  const int64_t top = floor_div2(source->height - crop_height_);
  const int64_t left = floor_div2(source->width - crop_width_);
  at::Tensor pixels = at::empty({1, 3, crop_height_, crop_width_}, at::kFloat);
  float* out = pixels.data_ptr<float>();
  const int64_t plane = crop_height_ * crop_width_;
  std::array<float, 3> mean{};
  std::array<float, 3> deviation{};
  for (size_t c = 0; c < 3; ++c) {
    mean[c] = static_cast<float>(image_mean_[c]);
    deviation[c] = static_cast<float>(image_std_[c]);
  }
  for (int64_t y = 0; y < crop_height_; ++y) {
    const int64_t row = y + top;
    for (int64_t x = 0; x < crop_width_; ++x) {
      const int64_t column = x + left;
      const bool inside = row >= 0 && row < source->height && column >= 0 && column < source->width;
      for (int64_t c = 0; c < 3; ++c) {
        const uint8_t byte = inside ? source->rgb[(row * source->width + column) * 3 + c] : 0;
        // numpy's order: the rescale in float64 then cast, the normalisation in float32.
        float value = do_rescale_ ? static_cast<float>(static_cast<double>(byte) * rescale_factor_)
                                  : static_cast<float>(byte);
        if (do_normalize_) value = (value - mean[c]) / deviation[c];
        out[c * plane + y * crop_width_ + x] = value;
      }
    }
  }
  return pixels;
}

}  // namespace tessera
