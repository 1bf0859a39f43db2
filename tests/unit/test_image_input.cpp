// The image input of Wan image-to-video (issue 24): JPEG decoding equal to PIL's, the format chosen by signature,
// the errors, and resize_image bit-equal to Pillow's Image.resize (fixtures: scripts/fixtures/image_input.py).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "src/io/image_file.h"
#include "src/io/image_orientation.h"
#include "src/io/image_resample.h"
#include "tests/unit/error_message.h"
#include "tests/unit/image_input_fixture.h"
#include "tests/unit/scratch_dir.h"

namespace tessera {
namespace {

using testing::frame_of;
using testing::image_input_cases;
using testing::image_input_dir;
using testing::image_input_expected;
using testing::max_pixel_difference;

std::string file_bytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(ImageInput, JpegDecodeEqualsPil) {
  const auto cases = image_input_cases();
  ASSERT_GE(cases.at("jpegs").size(), 7U);
  for (const std::string name : cases.at("jpegs")) {
    const io::FrameBuffer want = frame_of(image_input_expected().load(detail::concat("jpeg_", name)));
    const io::FrameBuffer got = io::read_image(detail::concat(image_input_dir(), "/", name, ".jpg"));
    const int difference = max_pixel_difference(got, want);
    std::printf("jpeg %-16s %3lldx%-3lld max |tessera - PIL| = %d\n", name.c_str(), static_cast<long long>(want.height),
                static_cast<long long>(want.width), difference);
    EXPECT_EQ(difference, 0) << name << " (-1: sizes differ)";
  }
}

TEST(ImageInput, FormatByContentNotExtension) {
  testing::ScratchDir scratch("tessera_image_input");
  const io::FrameBuffer jpeg = io::read_jpeg(detail::concat(image_input_dir(), "/odd_37x23.jpg"));
  // A JPEG named .png and a PNG named .jpg are each read as what they hold.
  write_bytes(scratch.file("jpeg.png"), file_bytes(detail::concat(image_input_dir(), "/odd_37x23.jpg")));
  EXPECT_EQ(max_pixel_difference(io::read_image(scratch.file("jpeg.png")), jpeg), 0);
  write_bytes(scratch.file("png.jpg"), io::encode_png(jpeg.rgb.data(), jpeg.height, jpeg.width));
  EXPECT_EQ(max_pixel_difference(io::read_image(scratch.file("png.jpg")), jpeg), 0);
}

TEST(ImageInput, ErrorsNameTheFileAndTheFix) {
  testing::ScratchDir scratch("tessera_image_input");
  const std::string missing = scratch.file("missing.jpg");
  std::string message = message_of([&] { io::read_image(missing); });
  EXPECT_TRUE(has(message, missing) && has(message, "does not exist")) << message;

  write_bytes(scratch.file("notes.jpg"), "GIF89a, not a JPEG at all");
  message = message_of([&] { io::read_image(scratch.file("notes.jpg")); });
  EXPECT_TRUE(has(message, "notes.jpg") && has(message, "PNG or JPEG")) << message;
  write_bytes(scratch.file("empty.png"), "");
  message = message_of([&] { io::read_image(scratch.file("empty.png")); });
  EXPECT_TRUE(has(message, "empty.png") && has(message, "it is empty")) << message;

  // Truncated at every few bytes past the header, and a corrupt header: an error, never a crash or an exit.
  const std::string jpeg = file_bytes(detail::concat(image_input_dir(), "/baseline_420.jpg"));
  for (size_t length : {size_t{3}, size_t{20}, jpeg.size() / 3, jpeg.size() / 2, jpeg.size() - 2}) {
    write_bytes(scratch.file("cut.jpg"), jpeg.substr(0, length));
    message = message_of([&] { io::read_image(scratch.file("cut.jpg")); });
    EXPECT_TRUE(has(message, "cut.jpg") && has(message, "truncated or corrupt")) << length << ": " << message;
  }
  std::string corrupt = jpeg;
  for (size_t i = 4; i < 40; ++i) corrupt[i] = static_cast<char>(0x5a);
  write_bytes(scratch.file("corrupt.jpg"), corrupt);
  message = message_of([&] { io::read_image(scratch.file("corrupt.jpg")); });
  EXPECT_TRUE(has(message, "corrupt.jpg") && has(message, "cannot decode JPEG")) << message;
  // A header claiming 20000x20000 pixels (the frame header's size fields rewritten): refused before decoding.
  std::string huge = jpeg;
  const size_t frame = huge.find("\xff\xc0");
  ASSERT_NE(frame, std::string::npos);
  for (size_t at : {frame + 5, frame + 7}) {
    huge[at] = static_cast<char>(20000 >> 8);
    huge[at + 1] = static_cast<char>(20000 & 0xff);
  }
  write_bytes(scratch.file("huge.jpg"), huge);
  message = message_of([&] { io::read_image(scratch.file("huge.jpg")); });
  EXPECT_TRUE(has(message, "huge.jpg") && has(message, "20000x20000") && has(message, "decompression-bomb"))
      << message;
  // The reader works again after a failure (no state left behind by the jump out of libjpeg).
  EXPECT_EQ(io::read_image(detail::concat(image_input_dir(), "/baseline_420.jpg")).width, 48);
}

TEST(ImageInput, LoadImageAppliesExifOrientationAsDiffusers) {
  const auto cases = image_input_cases();
  ASSERT_EQ(cases.at("orientations").size(), 10U);
  for (const std::string name : cases.at("orientations")) {
    const std::string path = detail::concat(image_input_dir(), "/", name, name.ends_with("png") ? ".png" : ".jpg");
    const io::FrameBuffer want = frame_of(image_input_expected().load(detail::concat("load_image_", name)));
    const io::FrameBuffer got = io::load_image(path);
    EXPECT_EQ(max_pixel_difference(got, want), 0) << name << " (-1: sizes differ)";
    const int orientation = std::stoi(name.substr(std::string("orientation_").size(), 1));
    EXPECT_EQ(io::exif_orientation(file_bytes(path)), orientation) << name;
  }
  // Files without EXIF, or with bytes that merely look like it, are used as stored.
  EXPECT_EQ(io::exif_orientation(file_bytes(detail::concat(image_input_dir(), "/baseline_420.jpg"))), 1);
  EXPECT_EQ(io::exif_orientation(std::string("\xff\xd8\xff\xe1\x00\x10" "Exif", 10)), 1);
  EXPECT_EQ(io::exif_orientation("not an image"), 1);
}

TEST(PillowResize, BitEqualOnAwkwardSizes) {
  const auto cases = image_input_cases();
  int worst = 0;
  int compared = 0;
  for (const auto& [source, outputs] : cases.at("resizes").items()) {
    const io::FrameBuffer image = frame_of(image_input_expected().load(detail::concat("resize_source_", source)));
    for (const auto& [filter_name, code] : cases.at("filters").items()) {
      for (const auto& size : outputs) {
        const int64_t height = size.at(0);
        const int64_t width = size.at(1);
        const std::string key = detail::concat("resize_", source, "_", filter_name, "_", height, "x", width);
        const io::FrameBuffer want = frame_of(image_input_expected().load(key));
        const io::FrameBuffer got = io::resize_image(image, height, width, io::resample_from_pil(code.get<int>()));
        const int difference = max_pixel_difference(got, want);
        EXPECT_EQ(difference, 0) << key << " (-1: sizes differ)";
        worst = std::max(worst, difference);
        ++compared;
      }
    }
  }
  std::printf("resize: %d cases, max |tessera - Pillow| = %d\n", compared, worst);
  EXPECT_GE(compared, 60);
}

TEST(PillowResize, FilterCodesAndArguments) {
  EXPECT_EQ(io::resample_from_pil(0), io::Resample::nearest);
  EXPECT_EQ(io::resample_from_pil(1), io::Resample::lanczos);
  EXPECT_EQ(io::resample_from_pil(2), io::Resample::bilinear);
  EXPECT_EQ(io::resample_from_pil(3), io::Resample::bicubic);
  for (int code : {4, 5, -1, 6}) {
    const std::string message = message_of([&] { io::resample_from_pil(code); });
    EXPECT_TRUE(has(message, "0 (nearest), 1 (lanczos), 2 (bilinear) or 3 (bicubic)")) << message;
  }
  const io::FrameBuffer image = frame_of(image_input_expected().load("resize_source_wide"));
  const io::FrameBuffer copy = io::resize_image(image, image.height, image.width, io::Resample::lanczos);
  EXPECT_EQ(copy.rgb, image.rgb);
  EXPECT_TRUE(has(message_of([&] { io::resize_image(image, 0, 3, io::Resample::bilinear); }), "at least 1x1"));
  io::FrameBuffer two = io::make_frames(2, 4, 4);
  EXPECT_TRUE(has(message_of([&] { io::resize_image(two, 2, 2, io::Resample::bilinear); }), "one image"));
}

}  // namespace
}  // namespace tessera
