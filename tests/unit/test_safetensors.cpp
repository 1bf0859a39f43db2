// The safetensors reader and writer: round trips of every dtype and odd shapes, metadata, one clear error
// per kind of malformed file, and (SafetensorsInterop, driven by check_safetensors_roundtrip.py) files
// exchanged with Python's safetensors package.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/error_message.h"
#include "common/check.h"
#include "src/io/safetensors.h"
#include "tests/unit/scratch_dir.h"

namespace tessera::io {
namespace {

using testing::ScratchDir;

// The dtypes and shapes every round trip covers; check_safetensors_roundtrip.py lists the same ones.
const std::vector<std::string> kDtypeNames = {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2",
                                              "I64", "I32", "I16", "I8",   "U8",      "BOOL"};
const std::vector<std::vector<int64_t>> kShapes = {{}, {0}, {3, 0, 2}, {7}, {3, 5, 2}, {1, 1, 13}};

std::string tensor_name(const std::string& dtype_name, const std::vector<int64_t>& shape) {
  std::string name = dtype_name + "_";
  if (shape.empty()) return name + "scalar";
  for (size_t i = 0; i < shape.size(); ++i) name += (i ? "x" : "") + std::to_string(shape[i]);
  return name;
}

// Values exactly representable in `dtype`, varied enough to catch swapped or misread bytes; the Python
// script computes the same ones.
at::Tensor recipe(c10::ScalarType dtype, const std::vector<int64_t>& shape) {
  int64_t numel = 1;
  for (const int64_t dim : shape) numel *= dim;
  const at::Tensor i = at::arange(numel, at::kDouble);
  at::Tensor values;
  if (dtype == at::kBool) {
    values = i.remainder(3) == 0;
  } else if (dtype == at::kByte) {
    values = (i * 7).remainder(256);
  } else if (dtype == at::kFloat8_e4m3fn || dtype == at::kFloat8_e5m2) {
    values = (i.remainder(16) - 8) * 0.5;
  } else if (at::isFloatingType(dtype)) {
    values = (i.remainder(100) - 50) * 0.5;
  } else {
    values = i.remainder(100) - 50;
  }
  return values.to(dtype).reshape(shape);
}

std::vector<std::pair<std::string, at::Tensor>> recipe_tensors() {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const std::string& dtype_name : kDtypeNames) {
    for (const auto& shape : kShapes) {
      const c10::ScalarType dtype = *dtype_from_safetensors_name(dtype_name);
      tensors.emplace_back(tensor_name(dtype_name, shape), recipe(dtype, shape));
    }
  }
  return tensors;
}

// Same dtype, same shape, same bytes (at::equal lacks kernels for some dtypes, such as float8).
::testing::AssertionResult bitwise_equal(const at::Tensor& actual, const at::Tensor& expected) {
  if (actual.scalar_type() != expected.scalar_type()) {
    return ::testing::AssertionFailure() << "dtype " << actual.scalar_type() << " != "
                                         << expected.scalar_type();
  }
  if (actual.sizes() != expected.sizes()) {
    return ::testing::AssertionFailure() << "shape " << actual.sizes() << " != " << expected.sizes();
  }
  const auto bytes = [](const at::Tensor& t) { return t.contiguous().reshape(-1).view(at::kByte); };
  if (!at::equal(bytes(actual), bytes(expected))) return ::testing::AssertionFailure() << "values differ";
  return ::testing::AssertionSuccess();
}

// A file with the given header text (not padded, unless the text is) and data bytes.
void write_raw(const std::string& path, const std::string& header, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  const uint64_t length = header.size();
  out.write(reinterpret_cast<const char*>(&length), sizeof(length));
  out << header << data;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

class SafetensorsTest : public ::testing::Test {
 protected:
  ScratchDir dir_{"tessera_safetensors"};
};

TEST_F(SafetensorsTest, RoundTripsEveryDtypeAndOddShapes) {
  const auto tensors = recipe_tensors();
  const std::string path = dir_.file("all.safetensors");
  save_safetensors(path, tensors);

  const SafetensorsFile file(path);
  EXPECT_EQ(file.path(), path);
  EXPECT_EQ(file.names().size(), tensors.size());
  EXPECT_TRUE(file.metadata().empty());
  for (const auto& [name, expected] : tensors) {
    ASSERT_TRUE(file.contains(name)) << name;
    const TensorInfo& info = file.info(name);
    EXPECT_EQ(info.dtype, expected.scalar_type()) << name;
    EXPECT_EQ(info.shape, expected.sizes().vec()) << name;
    EXPECT_EQ(info.numel(), expected.numel()) << name;
    EXPECT_EQ(info.byte_size(), static_cast<uint64_t>(expected.numel() * expected.element_size())) << name;
    // Widest dtypes first keeps every tensor aligned to its element size.
    EXPECT_EQ(info.data_begin % expected.element_size(), 0u) << name;
    EXPECT_TRUE(bitwise_equal(file.load(name), expected)) << name;
  }
  EXPECT_FALSE(file.contains("F32"));
}

TEST_F(SafetensorsTest, LoadConvertsDtypeAndReturnsAnIndependentCopy) {
  const std::string path = dir_.file("convert.safetensors");
  save_safetensors(path, {{"w", recipe(at::kBFloat16, {4, 3})}});
  const SafetensorsFile file(path);
  at::Tensor as_float = file.load("w", at::kFloat);
  EXPECT_TRUE(bitwise_equal(as_float, recipe(at::kFloat, {4, 3})));
  as_float.fill_(1.0);  // writable, unlike the read-only mapping
  EXPECT_TRUE(bitwise_equal(file.load("w"), recipe(at::kBFloat16, {4, 3})));
}

TEST_F(SafetensorsTest, TensorOutlivesTheFile) {
  const std::string path = dir_.file("outlive.safetensors");
  save_safetensors(path, {{"w", recipe(at::kFloat, {5})}});
  at::Tensor loaded;
  {
    const SafetensorsFile file(path);
    loaded = file.load("w");
  }
  EXPECT_TRUE(bitwise_equal(loaded, recipe(at::kFloat, {5})));
}

TEST_F(SafetensorsTest, WritesNonContiguousTensorsAsTheirValues) {
  const at::Tensor transposed = recipe(at::kFloat, {3, 4}).t();
  const std::string path = dir_.file("transposed.safetensors");
  save_safetensors(path, {{"t", transposed}});
  EXPECT_TRUE(bitwise_equal(SafetensorsFile(path).load("t"), transposed.contiguous()));
}

TEST_F(SafetensorsTest, MetadataRoundTrips) {
  const std::string path = dir_.file("meta.safetensors");
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "h\u00e9llo \"quoted\""}};
  save_safetensors(path, {{"x", recipe(at::kFloat, {2})}}, metadata);
  EXPECT_EQ(SafetensorsFile(path).metadata(), metadata);
}

TEST_F(SafetensorsTest, HeaderIsPaddedWithSpacesToEightBytes) {
  const std::string path = dir_.file("padded.safetensors");
  save_safetensors(path, {{"odd_name", recipe(at::kChar, {3})}});
  const std::string bytes = read_all(path);
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), sizeof(header_size));
  EXPECT_EQ(header_size % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + header_size + 3);
  const std::string header = bytes.substr(8, header_size);
  EXPECT_EQ(header.front(), '{');
  EXPECT_EQ(header.find_last_not_of(' '), header.rfind('}'));
}

TEST_F(SafetensorsTest, EmptyFileHoldsNoTensors) {
  const std::string path = dir_.file("empty.safetensors");
  save_safetensors(path, {});
  const SafetensorsFile file(path);
  EXPECT_TRUE(file.names().empty());
}

TEST_F(SafetensorsTest, ReadsUnalignedTensorData) {
  // An unpadded header (the reader accepts one) leaves the data section off 4-byte alignment.
  const std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  ASSERT_NE((8 + header.size()) % 4, 0u);
  const at::Tensor expected = recipe(at::kFloat, {2});
  write_raw(dir_.file("unaligned.safetensors"), header,
            std::string(static_cast<const char*>(expected.data_ptr()), 8));
  EXPECT_TRUE(bitwise_equal(SafetensorsFile(dir_.file("unaligned.safetensors")).load("a"), expected));
}

TEST_F(SafetensorsTest, UnknownTensorNameNamesTheFile) {
  const std::string path = dir_.file("one.safetensors");
  save_safetensors(path, {{"x", recipe(at::kFloat, {2})}});
  const std::string message = message_of([&] { SafetensorsFile(path).load("y"); });
  EXPECT_TRUE(has(message, path)) << message;
  EXPECT_TRUE(has(message, "has no tensor 'y'")) << message;
}

// --- Malformed files: one error each, naming the file (and the tensor where there is one) ---

TEST_F(SafetensorsTest, MissingFile) {
  const std::string path = dir_.file("absent.safetensors");
  const std::string message = message_of([&] { SafetensorsFile{path}; });
  EXPECT_TRUE(has(message, "cannot open safetensors file " + path)) << message;
  EXPECT_TRUE(has(message, "No such file")) << message;
}

TEST_F(SafetensorsTest, FileShorterThanTheHeaderLength) {
  const std::string path = dir_.file("short.safetensors");
  std::ofstream(path, std::ios::binary) << "abcde";
  const std::string message = message_of([&] { SafetensorsFile{path}; });
  EXPECT_TRUE(has(message, path)) << message;
  EXPECT_TRUE(has(message, "5 bytes long, too short")) << message;
}

TEST_F(SafetensorsTest, HeaderLengthLargerThanTheFile) {
  const std::string path = dir_.file("long_header.safetensors");
  {
    std::ofstream out(path, std::ios::binary);
    const uint64_t length = 1000;
    out.write(reinterpret_cast<const char*>(&length), sizeof(length));
    out << "{}";
  }
  const std::string message = message_of([&] { SafetensorsFile{path}; });
  EXPECT_TRUE(has(message, path)) << message;
  EXPECT_TRUE(has(message, "header length 1000 is larger than the 2 bytes that follow it")) << message;
}

TEST_F(SafetensorsTest, HeaderNotJson) {
  const std::string path = dir_.file("not_json.safetensors");
  write_raw(path, "{\"a\": nope}", "");
  const std::string message = message_of([&] { SafetensorsFile{path}; });
  EXPECT_TRUE(has(message, path)) << message;
  EXPECT_TRUE(has(message, "header is not valid JSON")) << message;
}

TEST_F(SafetensorsTest, HeaderNotAnObject) {
  const std::string path = dir_.file("array.safetensors");
  write_raw(path, "[1, 2]", "");
  const std::string message = message_of([&] { SafetensorsFile{path}; });
  EXPECT_TRUE(has(message, "header must be a JSON object, not array")) << message;
}

TEST_F(SafetensorsTest, UnknownDtype) {
  const std::string path = dir_.file("dtype.safetensors");
  write_raw(path, R"({"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,1]}})", "x");
  const std::string message = message_of([&] { SafetensorsFile{path}; });
  EXPECT_TRUE(has(message, path)) << message;
  EXPECT_TRUE(has(message, "tensor 'w' has unknown dtype 'Q4'")) << message;
  EXPECT_TRUE(has(message, "BF16")) << message;
}

TEST_F(SafetensorsTest, ShapeAndByteRangeDisagree) {
  const std::string path = dir_.file("size.safetensors");
  write_raw(path, R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", std::string(20, '\0'));
  const std::string message = message_of([&] { SafetensorsFile{path}; });
  EXPECT_TRUE(has(message, path)) << message;
  EXPECT_TRUE(has(message, "tensor 'w' has shape [2, 3] and dtype F32, which need 24 bytes")) << message;
  EXPECT_TRUE(has(message, "span 20")) << message;
}

TEST_F(SafetensorsTest, MalformedEntries) {
  const std::string path = dir_.file("entries.safetensors");
  write_raw(path, R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", std::string(4, '\0'));
  EXPECT_TRUE(has(message_of([&] { SafetensorsFile{path}; }), "tensor 'w' has no \"shape\" array"));
  write_raw(path, R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", std::string(4, '\0'));
  EXPECT_TRUE(has(message_of([&] { SafetensorsFile{path}; }), "tensor 'w' has no \"shape\" array"));
  write_raw(path, R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", std::string(4, '\0'));
  EXPECT_TRUE(has(message_of([&] { SafetensorsFile{path}; }), "tensor 'w' has no \"data_offsets\" pair"));
  write_raw(path, R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}})", std::string(4, '\0'));
  EXPECT_TRUE(has(message_of([&] { SafetensorsFile{path}; }), "end before they begin"));
  write_raw(path, R"({"w":[1]})", "");
  EXPECT_TRUE(has(message_of([&] { SafetensorsFile{path}; }), "tensor 'w' must be described by an object"));
  write_raw(path, R"({"__metadata__":{"n":1}})", "");
  EXPECT_TRUE(has(message_of([&] { SafetensorsFile{path}; }),
                  "\"__metadata__\" value of \"n\" must be a string"));
}

TEST_F(SafetensorsTest, OverlappingByteRanges) {
  const std::string path = dir_.file("overlap.safetensors");
  write_raw(path,
            R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
            R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
            std::string(12, '\0'));
  const std::string message = message_of([&] { SafetensorsFile{path}; });
  EXPECT_TRUE(has(message, path)) << message;
  EXPECT_TRUE(has(message, "tensor 'b' (bytes [4, 12)) overlaps tensor 'a'")) << message;
}

TEST_F(SafetensorsTest, GapBetweenByteRanges) {
  const std::string path = dir_.file("gap.safetensors");
  write_raw(path,
            R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
            R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
            std::string(12, '\0'));
  const std::string message = message_of([&] { SafetensorsFile{path}; });
  EXPECT_TRUE(has(message, "data bytes [4, 8) belong to no tensor (a gap before tensor 'b')")) << message;
}

TEST_F(SafetensorsTest, TruncatedFile) {
  const std::string path = dir_.file("truncated.safetensors");
  save_safetensors(path, {{"a", recipe(at::kFloat, {4})}, {"b", recipe(at::kFloat, {2})}});
  struct stat status {};
  ASSERT_EQ(stat(path.c_str(), &status), 0);
  ASSERT_EQ(truncate(path.c_str(), status.st_size - 5), 0);
  const std::string message = message_of([&] { SafetensorsFile{path}; });
  EXPECT_TRUE(has(message, path)) << message;
  EXPECT_TRUE(has(message, "is truncated: expected 24 bytes of tensor data, found 19; "
                           "re-download or re-save the file"))
      << message;
}

TEST_F(SafetensorsTest, BytesAfterTheLastTensor) {
  const std::string path = dir_.file("trailing.safetensors");
  write_raw(path, R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", "abc");
  const std::string message = message_of([&] { SafetensorsFile{path}; });
  EXPECT_TRUE(has(message, "1 bytes follow the last tensor's data")) << message;
}

TEST_F(SafetensorsTest, WriterRejectsBadInput) {
  const std::string path = dir_.file("bad.safetensors");
  const at::Tensor x = recipe(at::kFloat, {2});
  EXPECT_TRUE(has(message_of([&] { save_safetensors(path, {{"x", x}, {"x", x}}); }),
                  "tensor 'x' appears twice"));
  EXPECT_TRUE(has(message_of([&] { save_safetensors(path, {{"", x}}); }), "empty name"));
  EXPECT_TRUE(has(message_of([&] { save_safetensors(path, {{"__metadata__", x}}); }), "reserved"));
  EXPECT_TRUE(has(message_of([&] { save_safetensors(path, {{"c", at::zeros({2}, at::kComplexFloat)}}); }),
                  "tensor 'c' has dtype ComplexFloat, which safetensors cannot store"));
  EXPECT_NE(access(path.c_str(), F_OK), 0) << "a failed save leaves no file";
}

// --- Files exchanged with Python's safetensors: run by check_safetensors_roundtrip.py, skipped otherwise ---

std::string interop_dir() {
  const char* dir = std::getenv("TESSERA_SAFETENSORS_INTEROP_DIR");
  return dir != nullptr ? dir : "";
}

TEST(SafetensorsInterop, ReadsPythonWrittenFile) {
  if (interop_dir().empty()) GTEST_SKIP() << "run by check_safetensors_roundtrip.py";
  const SafetensorsFile file(interop_dir() + "/python_written.safetensors");
  const auto expected = recipe_tensors();
  EXPECT_EQ(file.names().size(), expected.size());
  for (const auto& [name, tensor] : expected) {
    ASSERT_TRUE(file.contains(name)) << name;
    EXPECT_TRUE(bitwise_equal(file.load(name), tensor)) << name;
  }
  EXPECT_EQ(file.metadata(), (std::map<std::string, std::string>{{"writer", "python"}}));
}

TEST(SafetensorsInterop, WritesFileForPython) {
  if (interop_dir().empty()) GTEST_SKIP() << "run by check_safetensors_roundtrip.py";
  save_safetensors(interop_dir() + "/cpp_written.safetensors", recipe_tensors(), {{"writer", "tessera"}});
}

}  // namespace
}  // namespace tessera::io
