#pragma once
// The safetensors format (8-byte little-endian header length, JSON header, raw little-endian tensor bytes):
// a memory-mapped reader that validates the whole header up front, and a writer. Our own, so that loading a
// checkpoint needs no Python and every malformed file fails with one error naming the file and the tensor.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tessera::io {

// One tensor's entry in a safetensors header.
struct TensorInfo {
  c10::ScalarType dtype = c10::ScalarType::Float;
  std::vector<int64_t> shape;
  // [data_begin, data_end): the tensor's bytes, as offsets into the data section that follows the header.
  uint64_t data_begin = 0;
  uint64_t data_end = 0;

  uint64_t byte_size() const { return data_end - data_begin; }
  int64_t numel() const;
};

// The safetensors spelling of a dtype ("BF16") and back. The first throws for dtypes the format cannot
// hold; the second returns nullopt for names it does not know.
std::string safetensors_dtype_name(c10::ScalarType dtype);
std::optional<c10::ScalarType> dtype_from_safetensors_name(const std::string& name);

// A safetensors header, parsed and checked: the tensor table and the metadata.
struct SafetensorsHeader {
  std::map<std::string, TensorInfo> tensors;
  std::map<std::string, std::string> metadata;
  uint64_t data_offset = 0;  // where the data section starts: 8 + the header length
};

// Parses the header of the safetensors file whose whole contents are [bytes, bytes + size) and checks that
// the tensors tile the data section exactly. `path` names the file in errors. Apart from the mapping, this is
// all SafetensorsFile does with untrusted bytes, so it is what tests/fuzz exercises.
SafetensorsHeader parse_safetensors_header(const uint8_t* bytes, uint64_t size, const std::string& path);

// A safetensors file, mapped read-only. The constructor reads and checks the header; tensor bytes are only
// touched by load(). Copies share the mapping.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(std::string path);

  const std::string& path() const { return path_; }
  // Tensor names, sorted.
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  // Throws naming the file when it holds no tensor `name`.
  const TensorInfo& info(const std::string& name) const;
  // A copy of the tensor, owned by the caller (it does not keep the file mapped), converted to `dtype`
  // (default: the file's) and placed on `device`.
  at::Tensor load(const std::string& name, std::optional<c10::ScalarType> dtype = std::nullopt,
                  c10::Device device = c10::Device(c10::kCPU)) const;
  // Elements [begin, begin + destination.numel()) of the tensor's row-major flattening, converted into the 1-D
  // `destination` (any dtype, any device): only those bytes of the mapped file are read, so a rank that keeps a
  // share of a tensor never holds all of it.
  void load_elements_into(const std::string& name, int64_t begin, at::Tensor& destination) const;
  // The header's "__metadata__" string map; empty when there is none.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  class Mapping;

  std::string path_;
  std::shared_ptr<const Mapping> mapping_;
  const uint8_t* data_section_ = nullptr;  // inside mapping_, just past the header
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Writes `tensors` (copied to contiguous CPU memory) and `metadata` as a safetensors file at `path`, through
// a temporary file and a rename so that a reader never sees a partial file. Names must be unique and
// non-empty; "__metadata__" is reserved.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace tessera::io
