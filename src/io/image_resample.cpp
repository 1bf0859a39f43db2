#include "src/io/image_resample.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "common/check.h"

// Pillow 13.0's arithmetic, learnt from its libImaging (Resample.c, Geometry.c, _imaging.c's resize): the filters in double
// precision, the weights of each output pixel normalised to sum 1 then rounded to 22-bit fixed point, and each pass
// rounding and clipping to 8 bits. Bit-equality depends on evaluating the same double expressions in the same order.

namespace tessera::io {
namespace {

// 32 bits less 8 for the pixel and 2 for the overshoot of negative lobes (Pillow's PRECISION_BITS).
constexpr int kPrecisionBits = 32 - 8 - 2;

double bilinear_weight(double x) {
  x = std::abs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Keys' cubic convolution with a = -0.5, written as Pillow evaluates it.
double bicubic_weight(double x) {
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double sinc(double x) {
  if (x == 0.0) return 1.0;
  x = x * std::numbers::pi;
  return std::sin(x) / x;
}

double lanczos_weight(double x) { return (-3.0 <= x && x < 3.0) ? sinc(x) * sinc(x / 3) : 0.0; }

struct Filter {
  double (*weight)(double);
  double support;
};

Filter filter_of(Resample filter) {
  switch (filter) {
    case Resample::bilinear: return {bilinear_weight, 1.0};
    case Resample::bicubic: return {bicubic_weight, 2.0};
    case Resample::lanczos: return {lanczos_weight, 3.0};
    case Resample::nearest: break;
  }
  TESSERA_INTERNAL_ASSERT(false, "nearest has no convolution filter");
  return {};
}

// For each output pixel along one axis: the first input pixel it reads, how many, and their fixed-point weights
// (`taps` per output pixel, unused ones zero).
struct Taps {
  int64_t taps = 0;
  std::vector<int64_t> first;
  std::vector<int64_t> count;
  std::vector<int32_t> weights;
};

Taps precompute_taps(int64_t in_size, int64_t out_size, const Filter& filter) {
  // Pillow takes the source box as floats; the whole image is [0, in_size).
  const float in0 = 0.0F;
  const auto in1 = static_cast<float>(in_size);
  const double scale = static_cast<double>(in1 - in0) / static_cast<double>(out_size);
  // Downscaling widens the filter by the factor so that every input pixel contributes.
  const double filter_scale = std::max(scale, 1.0);
  const double support = filter.support * filter_scale;
  Taps taps;
  taps.taps = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  taps.first.resize(out_size);
  taps.count.resize(out_size);
  taps.weights.assign(out_size * taps.taps, 0);
  std::vector<double> weights(taps.taps);
  const double inverse_filter_scale = 1.0 / filter_scale;
  for (int64_t out = 0; out < out_size; ++out) {
    const double center = in0 + (static_cast<double>(out) + 0.5) * scale;
    // Truncation towards zero as C's (int) cast, then clamped to the image.
    const auto lo = std::max<int64_t>(static_cast<int>(center - support + 0.5), 0);
    const auto hi = std::min<int64_t>(static_cast<int>(center + support + 0.5), in_size);
    const int64_t count = hi - lo;
    double sum = 0.0;
    for (int64_t i = 0; i < count; ++i) {
      const double w = filter.weight((static_cast<double>(i + lo) - center + 0.5) * inverse_filter_scale);
      weights[i] = w;
      sum += w;
    }
    for (int64_t i = 0; i < count; ++i) {
      const double w = sum != 0.0 ? weights[i] / sum : weights[i];
      // Rounding half away from zero, as Pillow's normalize_coeffs_8bpc.
      taps.weights[out * taps.taps + i] = static_cast<int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits)
                                                                     : 0.5 + w * (1 << kPrecisionBits));
    }
    taps.first[out] = lo;
    taps.count[out] = count;
  }
  return taps;
}

uint8_t clip8(int32_t sum) { return static_cast<uint8_t>(std::clamp(sum >> kPrecisionBits, 0, 255)); }

// One pass along width (`horizontal`) or height: [height, width, 3] bytes in, the resized axis out.
FrameBuffer resample_pass(const FrameBuffer& in, int64_t out_size, const Filter& filter, bool horizontal) {
  const int64_t in_size = horizontal ? in.width : in.height;
  const Taps taps = precompute_taps(in_size, out_size, filter);
  FrameBuffer out = make_frames(1, horizontal ? in.height : out_size, horizontal ? out_size : in.width);
  // Strides of the resized axis in the input, and of the other axis in both.
  const int64_t along = horizontal ? 3 : in.width * 3;
  const int64_t other_in = horizontal ? in.width * 3 : 3;
  const int64_t other_out = horizontal ? out_size * 3 : 3;
  const int64_t resized_out = horizontal ? 3 : out.width * 3;
  const int64_t others = horizontal ? in.height : in.width;
  for (int64_t o = 0; o < others; ++o) {
    const uint8_t* line = in.rgb.data() + o * other_in;
    for (int64_t x = 0; x < out_size; ++x) {
      const int32_t* k = taps.weights.data() + x * taps.taps;
      const uint8_t* source = line + taps.first[x] * along;
      for (int64_t c = 0; c < 3; ++c) {
        int32_t sum = 1 << (kPrecisionBits - 1);  // rounds the final shift
        for (int64_t i = 0; i < taps.count[x]; ++i) sum += source[i * along + c] * k[i];
        out.rgb[o * other_out + x * resized_out + c] = clip8(sum);
      }
    }
  }
  return out;
}

// Pillow's nearest neighbour (an affine scale): source positions accumulated in double from the pixel centres.
std::vector<int64_t> nearest_sources(int64_t in_size, int64_t out_size) {
  const double step = static_cast<double>(static_cast<float>(in_size)) / static_cast<double>(out_size);
  std::vector<int64_t> sources(out_size);
  double position = step * 0.5;
  for (int64_t i = 0; i < out_size; ++i) {
    sources[i] = position < 0.0 ? -1 : static_cast<int>(position);
    position += step;
  }
  return sources;
}

FrameBuffer resize_nearest(const FrameBuffer& image, int64_t height, int64_t width) {
  const std::vector<int64_t> rows = nearest_sources(image.height, height);
  const std::vector<int64_t> columns = nearest_sources(image.width, width);
  FrameBuffer out = make_frames(1, height, width);  // zeros where a source falls outside, as Pillow's fill
  for (int64_t y = 0; y < height; ++y) {
    if (rows[y] < 0 || rows[y] >= image.height) continue;
    for (int64_t x = 0; x < width; ++x) {
      if (columns[x] < 0 || columns[x] >= image.width) continue;
      const uint8_t* from = image.rgb.data() + (rows[y] * image.width + columns[x]) * 3;
      std::copy(from, from + 3, out.rgb.data() + (y * width + x) * 3);
    }
  }
  return out;
}

}  // namespace

Resample resample_from_pil(int code) {
  switch (code) {
    case 0: return Resample::nearest;
    case 1: return Resample::lanczos;
    case 2: return Resample::bilinear;
    case 3: return Resample::bicubic;
    default: break;
  }
  TESSERA_CHECK(false, "PIL resampling filter ", code,
                " is not supported; use 0 (nearest), 1 (lanczos), 2 (bilinear) or 3 (bicubic)");
  return Resample::nearest;
}

FrameBuffer resize_image(const FrameBuffer& image, int64_t height, int64_t width, Resample filter) {
  check_frames(image.view(), "resize_image");
  TESSERA_CHECK(image.frames == 1, "resize_image takes one image, got ", image.frames, " frames");
  TESSERA_CHECK(height >= 1 && width >= 1, "resize_image needs an output of at least 1x1 pixels, got ", height, "x",
                width);
  TESSERA_CHECK(image.height <= (1 << 24) && image.width <= (1 << 24) && height <= (1 << 24) && width <= (1 << 24),
                "resize_image: sizes above 2^24 pixels a side are not supported (Pillow's float box), got ",
                image.height, "x", image.width, " to ", height, "x", width);
  if (height == image.height && width == image.width) return image;
  if (filter == Resample::nearest) return resize_nearest(image, height, width);
  const Filter weights = filter_of(filter);
  // Pillow (13.0) resizes along the width first, unless the height shrinks by more than twice as many pixels as the
  // width does; the order changes the rounding between the passes.
  const bool vertical_first = image.height - height > 0 && image.height - height > (image.width - width) * 2;
  FrameBuffer result = image;
  for (const bool horizontal : {!vertical_first, vertical_first}) {
    // A pass whose axis keeps its size is skipped, as in Pillow (it would be the identity anyway up to rounding).
    if (horizontal && width != result.width) result = resample_pass(result, width, weights, true);
    if (!horizontal && height != result.height) result = resample_pass(result, height, weights, false);
  }
  return result;
}

}  // namespace tessera::io
