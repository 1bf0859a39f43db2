// Output files for generated frames: PNG round trips (single frames, strips, upscaling), MP4 and GIF videos
// probed back, refusals that happen before any work, atomic writes that leave nothing behind on failure,
// and grids.
#include <gtest/gtest.h>

#include <dirent.h>
#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/check.h"
#include "src/io/frame_grid.h"
#include "src/io/frame_scale.h"
#include "src/io/frame_writer.h"
#include "src/io/frames.h"
#include "src/io/image_file.h"
#include "src/io/video_file.h"
#include "tests/unit/error_message.h"
#include "tests/unit/scratch_dir.h"

namespace tessera::io {
namespace {

using testing::ScratchDir;

// Distinct, position-dependent values, so that a swapped channel, row or frame changes some byte.
FrameBuffer pattern(int64_t frames, int64_t height, int64_t width, int seed = 0) {
  FrameBuffer buffer = make_frames(frames, height, width);
  for (size_t i = 0; i < buffer.rgb.size(); ++i) buffer.rgb[i] = static_cast<uint8_t>((i * 37 + seed * 101) % 251);
  return buffer;
}

// A moving bright square on a dark background: something an encoder has to spend bits on.
FrameBuffer moving_square(int64_t frames, int64_t height, int64_t width) {
  FrameBuffer buffer = make_frames(frames, height, width);
  for (int64_t f = 0; f < frames; ++f) {
    for (int64_t y = 0; y < height; ++y) {
      for (int64_t x = 0; x < width; ++x) {
        const bool inside = x >= 2 * f && x < 2 * f + 8 && y >= f && y < f + 8;
        uint8_t* pixel = buffer.rgb.data() + ((f * height + y) * width + x) * 3;
        pixel[0] = inside ? 230 : 20;
        pixel[1] = inside ? 180 : static_cast<uint8_t>(4 * y);
        pixel[2] = inside ? 40 : static_cast<uint8_t>(4 * x);
      }
    }
  }
  return buffer;
}

const uint8_t* pixel_at(const FrameBuffer& buffer, int64_t frame, int64_t y, int64_t x) {
  return buffer.rgb.data() + ((frame * buffer.height + y) * buffer.width + x) * 3;
}

bool same_pixel(const uint8_t* a, const uint8_t* b) { return a[0] == b[0] && a[1] == b[1] && a[2] == b[2]; }

std::vector<std::string> entries_of(const std::string& directory) {
  std::vector<std::string> names;
  if (DIR* listing = opendir(directory.c_str())) {
    while (const dirent* entry = readdir(listing)) {
      const std::string name = entry->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    closedir(listing);
  }
  return names;
}

TEST(FrameIo, PngRoundTripIsBitExactForOddSize) {
  ScratchDir dir("tessera_frame_io");
  const FrameBuffer image = pattern(1, 5, 7);
  write_frames(dir.file("odd.png"), image.view(), {});
  const FrameBuffer back = read_png(dir.file("odd.png"));
  EXPECT_EQ(back.frames, 1);
  EXPECT_EQ(back.height, 5);
  EXPECT_EQ(back.width, 7);
  EXPECT_EQ(back.rgb, image.rgb);
  EXPECT_EQ(entries_of(dir.path()), std::vector<std::string>{"odd.png"});
}

TEST(FrameIo, EncodePngDecodesToTheSamePixels) {
  ScratchDir dir("tessera_frame_io");
  const FrameBuffer image = pattern(1, 1, 1, 3);
  write_frames(dir.file("one_pixel.PNG"), image.view(), {});  // the extension in any case
  EXPECT_EQ(read_png(dir.file("one_pixel.PNG")).rgb, image.rgb);
  EXPECT_EQ(encode_png(image.rgb.data(), 1, 1).substr(1, 3), "PNG");
}

TEST(FrameIo, SeveralFramesInOnePngMakeAStripWithSeparators) {
  ScratchDir dir("tessera_frame_io");
  const int64_t height = 5;
  const int64_t width = 7;
  const FrameBuffer video = pattern(3, height, width);
  write_frames(dir.file("strip.png"), video.view(), {});
  const FrameBuffer strip = read_png(dir.file("strip.png"));
  ASSERT_EQ(strip.height, height);
  ASSERT_EQ(strip.width, 3 * width + 2);
  for (int64_t f = 0; f < 3; ++f) {
    for (int64_t y = 0; y < height; ++y) {
      for (int64_t x = 0; x < width; ++x) {
        ASSERT_TRUE(same_pixel(pixel_at(strip, 0, y, f * (width + 1) + x), pixel_at(video, f, y, x)))
            << "frame " << f << " y " << y << " x " << x;
      }
    }
  }
  const uint8_t black[3] = {0, 0, 0};
  for (int64_t y = 0; y < height; ++y) {
    EXPECT_TRUE(same_pixel(pixel_at(strip, 0, y, width), black));
    EXPECT_TRUE(same_pixel(pixel_at(strip, 0, y, 2 * width + 1), black));
  }
}

TEST(FrameIo, UpscaleMakesNearestNeighbourBlocks) {
  ScratchDir dir("tessera_frame_io");
  const FrameBuffer image = pattern(1, 3, 2);
  FrameWriteOptions options;
  options.upscale = 4;
  write_frames(dir.file("big.png"), image.view(), options);
  const FrameBuffer big = read_png(dir.file("big.png"));
  ASSERT_EQ(big.height, 12);
  ASSERT_EQ(big.width, 8);
  for (int64_t y = 0; y < 12; ++y) {
    for (int64_t x = 0; x < 8; ++x) {
      ASSERT_TRUE(same_pixel(pixel_at(big, 0, y, x), pixel_at(image, 0, y / 4, x / 4))) << "y " << y << " x " << x;
    }
  }
  EXPECT_EQ(upscale_nearest(image.view(), 1).rgb, image.rgb);
  EXPECT_TRUE(has(message_of([&] { upscale_nearest(image.view(), 0); }), "at least 1"));
}

TEST(FrameIo, Mp4ProbesBackAsH264WithEveryFrame) {
  if (!video_output_available()) GTEST_SKIP() << "built without FFmpeg";
  ScratchDir dir("tessera_frame_io");
  const FrameBuffer video = moving_square(6, 32, 32);
  write_frames(dir.file("video.mp4"), video.view(), {});
  const VideoInfo info = probe_video(dir.file("video.mp4"));
  EXPECT_EQ(info.frames, 6);
  EXPECT_EQ(info.height, 32);
  EXPECT_EQ(info.width, 32);
  EXPECT_EQ(info.codec, "h264");
  EXPECT_EQ(entries_of(dir.path()), std::vector<std::string>{"video.mp4"});
}

TEST(FrameIo, Mp4PadsOddSizesToEven) {
  if (!video_output_available()) GTEST_SKIP() << "built without FFmpeg";
  ScratchDir dir("tessera_frame_io");
  FrameWriteOptions options;
  options.fps = 24;
  write_frames(dir.file("odd.MP4"), moving_square(6, 17, 33).view(), options);
  const VideoInfo info = probe_video(dir.file("odd.MP4"));
  EXPECT_EQ(info.frames, 6);
  EXPECT_EQ(info.height, 18);
  EXPECT_EQ(info.width, 34);
  EXPECT_EQ(info.codec, "h264");
}

TEST(FrameIo, Mp4OfOneUpscaledFrame) {
  if (!video_output_available()) GTEST_SKIP() << "built without FFmpeg";
  ScratchDir dir("tessera_frame_io");
  FrameWriteOptions options;
  options.upscale = 4;
  write_frames(dir.file("still.mp4"), moving_square(1, 32, 32).view(), options);
  const VideoInfo info = probe_video(dir.file("still.mp4"));
  EXPECT_EQ(info.frames, 1);
  EXPECT_EQ(info.height, 128);
  EXPECT_EQ(info.width, 128);
}

TEST(FrameIo, GifProbesBackWithEveryFrame) {
  if (!video_output_available()) GTEST_SKIP() << "built without FFmpeg";
  ScratchDir dir("tessera_frame_io");
  write_frames(dir.file("loop.gif"), moving_square(4, 7, 9).view(), {});
  const VideoInfo info = probe_video(dir.file("loop.gif"));
  EXPECT_EQ(info.frames, 4);
  EXPECT_EQ(info.height, 7);
  EXPECT_EQ(info.width, 9);
  EXPECT_EQ(info.codec, "gif");
}

TEST(FrameIo, UnknownExtensionIsRefusedListingSupportedOnes) {
  ScratchDir dir("tessera_frame_io");
  const FrameBuffer image = pattern(1, 4, 4);
  const std::string message = message_of([&] { write_frames(dir.file("out.bmp"), image.view(), {}); });
  EXPECT_TRUE(has(message, "out.bmp")) << message;
  EXPECT_TRUE(has(message, "unsupported extension .bmp")) << message;
  EXPECT_TRUE(has(message, ".png, .mp4, .gif")) << message;
  EXPECT_TRUE(has(message_of([&] { check_writable_output(dir.file("no_extension")); }), "no extension"));
  EXPECT_TRUE(entries_of(dir.path()).empty());
  EXPECT_EQ(supported_output_extensions(), (std::vector<std::string>{".png", ".mp4", ".gif"}));
}

TEST(FrameIo, MissingDirectoryIsRefusedBeforeAnyWork) {
  ScratchDir dir("tessera_frame_io");
  const std::string missing = dir.file("no_such_dir");
  const std::string message = message_of([&] { check_writable_output(missing + "/out.png"); });
  EXPECT_TRUE(has(message, "directory " + missing + " does not exist")) << message;
  EXPECT_TRUE(has(message, "mkdir -p")) << message;
  const FrameBuffer image = pattern(1, 4, 4);
  EXPECT_TRUE(has(message_of([&] { write_frames(missing + "/out.mp4", image.view(), {}); }), "does not exist"));
  EXPECT_TRUE(entries_of(dir.path()).empty());
}

TEST(FrameIo, DirectoryAsOutputIsRefused) {
  ScratchDir dir("tessera_frame_io");
  ASSERT_EQ(mkdir(dir.file("frames.png").c_str(), 0755), 0);
  const std::string message = message_of([&] { check_writable_output(dir.file("frames.png")); });
  EXPECT_TRUE(has(message, "it is a directory")) << message;
  EXPECT_TRUE(has(message_of([&] { check_writable_output(dir.path() + "/"); }), "no extension"));
  EXPECT_NO_THROW(check_writable_output(dir.file("fine.gif")));
  // The writability probe cleans up after itself.
  EXPECT_EQ(entries_of(dir.path()), std::vector<std::string>{"frames.png"});
}

TEST(FrameIo, FailedWriteLeavesNoFileAndNoTemporary) {
  ScratchDir dir("tessera_frame_io");
  // x264 refuses frames this wide after the temporary file has been created.
  const FrameBuffer too_wide = pattern(2, 16, 40000);
  const std::string message = message_of([&] { write_frames(dir.file("wide.mp4"), too_wide.view(), {}); });
  EXPECT_TRUE(has(message, "avcodec_open2")) << message;
  EXPECT_TRUE(has(message, ".wide.mp4.tmp.")) << message;
  EXPECT_TRUE(entries_of(dir.path()).empty());
}

TEST(FrameIo, FailedWriteKeepsTheOldFile) {
  ScratchDir dir("tessera_frame_io");
  write_frames(dir.file("keep.mp4"), moving_square(2, 8, 8).view(), {});
  EXPECT_THROW(write_frames(dir.file("keep.mp4"), pattern(1, 16, 40000).view(), {}), Error);
  EXPECT_EQ(probe_video(dir.file("keep.mp4")).frames, 2);
  EXPECT_EQ(entries_of(dir.path()), std::vector<std::string>{"keep.mp4"});
}

TEST(FrameIo, ReadPngNamesMissingAndNonPngFiles) {
  ScratchDir dir("tessera_frame_io");
  const std::string missing = message_of([&] { read_png(dir.file("absent.png")); });
  EXPECT_TRUE(has(missing, "absent.png")) << missing;
  EXPECT_TRUE(has(missing, "does not exist")) << missing;
  write_frames(dir.file("video.mp4"), moving_square(1, 8, 8).view(), {});
  const std::string not_png = message_of([&] { read_png(dir.file("video.mp4")); });
  EXPECT_TRUE(has(not_png, "cannot read " + dir.file("video.mp4") + " as a PNG file")) << not_png;
}

TEST(FrameIo, BadOptionsAndEmptyFramesAreRefused) {
  ScratchDir dir("tessera_frame_io");
  const FrameBuffer image = pattern(1, 4, 4);
  FrameWriteOptions zero_fps;
  zero_fps.fps = 0;
  EXPECT_TRUE(has(message_of([&] { write_frames(dir.file("a.mp4"), image.view(), zero_fps); }), "fps"));
  FrameWriteOptions zero_upscale;
  zero_upscale.upscale = 0;
  EXPECT_TRUE(has(message_of([&] { write_frames(dir.file("a.png"), image.view(), zero_upscale); }), "upscale"));
  const FrameBuffer empty;
  EXPECT_TRUE(has(message_of([&] { write_frames(dir.file("a.png"), empty.view(), {}); }), "at least one frame"));
  EXPECT_TRUE(entries_of(dir.path()).empty());
}

TEST(FrameGrid, FiveImagesInThreeColumnsCentredInTheirCells) {
  // Sizes differ: cells are 6x8 (largest height, largest width); image 4 (4x6) sits centred in row 1, column 1.
  std::vector<FrameBuffer> images;
  images.push_back(pattern(1, 6, 8, 0));
  images.push_back(pattern(1, 4, 4, 1));
  images.push_back(pattern(1, 2, 8, 2));
  images.push_back(pattern(1, 6, 2, 3));
  images.push_back(pattern(2, 4, 6, 4));  // only its first frame is used
  const int padding = 2;
  const uint8_t background = 200;
  const FrameBuffer grid = compose_grid(images, 3, padding, background);
  EXPECT_EQ(grid.frames, 1);
  EXPECT_EQ(grid.height, 2 * 6 + padding);
  EXPECT_EQ(grid.width, 3 * 8 + 2 * padding);

  const int64_t top = 1 * (6 + padding) + (6 - 4) / 2;
  const int64_t left = 1 * (8 + padding) + (8 - 6) / 2;
  for (int64_t y = 0; y < 4; ++y) {
    for (int64_t x = 0; x < 6; ++x) {
      ASSERT_TRUE(same_pixel(pixel_at(grid, 0, top + y, left + x), pixel_at(images[4], 0, y, x)))
          << "y " << y << " x " << x;
    }
  }
  const uint8_t filled[3] = {background, background, background};
  EXPECT_TRUE(same_pixel(pixel_at(grid, 0, top - 1, left), filled));                   // above image 4, inside its cell
  EXPECT_TRUE(same_pixel(pixel_at(grid, 0, 0, 8), filled));                            // the gutter after column 0
  EXPECT_TRUE(same_pixel(pixel_at(grid, 0, 6 + padding, 2 * (8 + padding)), filled));  // the empty last cell
  EXPECT_TRUE(same_pixel(pixel_at(grid, 0, 0, 0), pixel_at(images[0], 0, 0, 0)));
}

TEST(FrameGrid, FewerImagesThanColumnsUseOnlyTheirColumns) {
  const FrameBuffer grid = compose_grid(std::vector<FrameBuffer>{pattern(1, 3, 5), pattern(1, 3, 5)}, 4, 1, 0);
  EXPECT_EQ(grid.height, 3);
  EXPECT_EQ(grid.width, 2 * 5 + 1);
  EXPECT_TRUE(has(message_of([] { compose_grid(std::vector<FrameBuffer>{}, 3, 0, 0); }), "at least one image"));
}

}  // namespace
}  // namespace tessera::io
