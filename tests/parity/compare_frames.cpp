// compare_frames ACTUAL.png EXPECTED.safetensors NAME [MAX_DIFFERENCE]: exits 0 when the PNG that `tessera
// generate` wrote (several frames side by side with 1-pixel separators) holds the uint8 frames [F, H, W, 3] of
// tensor NAME to within MAX_DIFFERENCE levels (default 1: the 1/255 of the end-to-end contract) in every pixel,
// printing the largest difference and how many values differ either way.
#include <ATen/ATen.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "src/io/image_file.h"
#include "src/io/safetensors.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s ACTUAL.png EXPECTED.safetensors NAME [MAX_DIFFERENCE]\n", argv[0]);
    return 2;
  }
  try {
    const int max_difference = argc > 4 ? std::atoi(argv[4]) : 1;
    const at::Tensor expected = tessera::io::SafetensorsFile(argv[2]).load(argv[3], at::kInt);
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
