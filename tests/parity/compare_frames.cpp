// compare_frames ACTUAL.png EXPECTED.safetensors NAME [MAX_DIFFERENCE]: exits 0 when the PNG that `tessera
// generate` wrote (several frames side by side with 1-pixel separators) holds the uint8 frames [F, H, W, 3] of
// tensor NAME to within MAX_DIFFERENCE levels (default 1: the 1/255 of the end-to-end contract) in every pixel,
// printing the largest difference and how many values differ either way.
// compare_frames ACTUAL.png EXPECTED.png FRAMES [MAX_DIFFERENCE]: the same against another run's PNG of FRAMES frames
// (a parallel run against its single-rank one).
#include <ATen/ATen.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "src/io/image_file.h"
#include "src/io/safetensors.h"

namespace {

// [F, H, W, 3] int frames: tensor `name` of a safetensors file, or the `name` (a count) frames of a PNG strip.
at::Tensor expected_frames(const std::string& path, const char* name) {
  if (path.size() < 4 || path.substr(path.size() - 4) != ".png") {
    return tessera::io::SafetensorsFile(path).load(name, at::kInt);
  }
  const int64_t frames = std::atoll(name);
  tessera::io::FrameBuffer png = tessera::io::read_png(path);
  if (frames < 1 || (png.width + 1) % frames != 0) {
    std::string message = path;
    message.append(" is not a strip of ").append(name).append(" frames");
    throw std::runtime_error(message);
  }
  const int64_t width = (png.width + 1) / frames - 1;
  const at::Tensor strip = at::from_blob(png.rgb.data(), {png.height, png.width, 3}, at::kByte).to(at::kInt);
  std::vector<at::Tensor> all;
  for (int64_t frame = 0; frame < frames; ++frame) {
    all.push_back(strip.slice(1, frame * (width + 1), frame * (width + 1) + width));
  }
  return at::stack(all);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s ACTUAL.png EXPECTED.safetensors NAME [MAX_DIFFERENCE]\n"
                         "       %s ACTUAL.png EXPECTED.png FRAMES [MAX_DIFFERENCE]\n", argv[0], argv[0]);
    return 2;
  }
  try {
    const int max_difference = argc > 4 ? std::atoi(argv[4]) : 1;
    const at::Tensor expected = expected_frames(argv[2], argv[3]);
    tessera::io::FrameBuffer png = tessera::io::read_png(argv[1]);
    const int64_t frames = expected.size(0), height = expected.size(1), width = expected.size(2);
    if (png.height != height || png.width != frames * width + (frames - 1)) {
      std::fprintf(stderr, "%s is %lldx%lld; %lld frames of %lldx%lld side by side would be %lldx%lld\n", argv[1],
                   static_cast<long long>(png.height), static_cast<long long>(png.width),
                   static_cast<long long>(frames), static_cast<long long>(height), static_cast<long long>(width),
                   static_cast<long long>(height), static_cast<long long>(frames * width + frames - 1));
      return 1;
    }
    const at::Tensor strip = at::from_blob(png.rgb.data(), {height, png.width, 3}, at::kByte).to(at::kInt);
    int64_t largest = 0, differing = 0;
    for (int64_t frame = 0; frame < frames; ++frame) {
      const at::Tensor actual = strip.slice(1, frame * (width + 1), frame * (width + 1) + width);
      const at::Tensor difference = (actual - expected[frame]).abs();
      largest = std::max<int64_t>(largest, difference.max().item<int64_t>());
      differing += difference.gt(0).sum().item<int64_t>();
    }
    const bool close = largest <= max_difference;
    std::printf("%s: %lld frame(s), largest difference %lld/255, %lld of %lld values differ (allowed %d/255): %s\n",
                argv[3], static_cast<long long>(frames), static_cast<long long>(largest),
                static_cast<long long>(differing), static_cast<long long>(expected.numel()), max_difference,
                close ? "match" : "MISMATCH");
    return close ? 0 : 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s\n", error.what());
    return 1;
  }
}
