#include "src/io/frame_grid.h"

#include <algorithm>
#include <string>

#include "common/check.h"

namespace tessera::io {

FrameBuffer compose_grid(const std::vector<FramesView>& images, int columns, int padding, uint8_t background) {
  TESSERA_CHECK(!images.empty(), "compose_grid needs at least one image");
  TESSERA_CHECK(columns >= 1, "compose_grid needs at least one column, got ", columns);
  TESSERA_CHECK(padding >= 0, "compose_grid padding must not be negative, got ", padding);
  int64_t cell_height = 0;
  int64_t cell_width = 0;
  for (size_t i = 0; i < images.size(); ++i) {
    check_frames(images[i], "compose_grid image " + std::to_string(i));
    cell_height = std::max(cell_height, images[i].height);
    cell_width = std::max(cell_width, images[i].width);
  }
  const int64_t count = static_cast<int64_t>(images.size());
  const int64_t used_columns = std::min<int64_t>(columns, count);
  const int64_t rows = (count + used_columns - 1) / used_columns;
  FrameBuffer grid = make_frames(1, rows * cell_height + (rows - 1) * padding,
                                 used_columns * cell_width + (used_columns - 1) * padding);
  std::fill(grid.rgb.begin(), grid.rgb.end(), background);

  for (int64_t i = 0; i < count; ++i) {
    const FramesView& image = images[i];
    const int64_t top = (i / used_columns) * (cell_height + padding) + (cell_height - image.height) / 2;
    const int64_t left = (i % used_columns) * (cell_width + padding) + (cell_width - image.width) / 2;
    for (int64_t y = 0; y < image.height; ++y) {
      const uint8_t* source_row = image.rgb + y * image.width * 3;
      std::copy(source_row, source_row + image.width * 3, grid.rgb.data() + ((top + y) * grid.width + left) * 3);
    }
  }
  return grid;
}

FrameBuffer compose_grid(const std::vector<FrameBuffer>& images, int columns, int padding, uint8_t background) {
  std::vector<FramesView> views;
  views.reserve(images.size());
  for (const FrameBuffer& image : images) views.push_back(image.view());
  return compose_grid(views, columns, padding, background);
}

FrameBuffer compose_strip(FramesView frames, int padding, uint8_t background) {
  std::vector<FramesView> each_frame;
  for (int64_t index = 0; index < frames.frames; ++index) each_frame.push_back(frames.single(index));
  return compose_grid(each_frame, static_cast<int>(frames.frames), padding, background);
}

}  // namespace tessera::io
