#include "src/io/safetensors.h"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "common/join.h"
#include "common/check.h"

// The format stores little-endian bytes; we map them straight into tensors.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes a little-endian host");

namespace tessera::io {
namespace {

struct DtypeName {
  const char* name;
  c10::ScalarType dtype;
};

constexpr std::array<DtypeName, 12> kDtypeNames = {{
    {"F64", c10::ScalarType::Double},
    {"F32", c10::ScalarType::Float},
    {"F16", c10::ScalarType::Half},
    {"BF16", c10::ScalarType::BFloat16},
    {"F8_E4M3", c10::ScalarType::Float8_e4m3fn},
    {"F8_E5M2", c10::ScalarType::Float8_e5m2},
    {"I64", c10::ScalarType::Long},
    {"I32", c10::ScalarType::Int},
    {"I16", c10::ScalarType::Short},
    {"I8", c10::ScalarType::Char},
    {"U8", c10::ScalarType::Byte},
    {"BOOL", c10::ScalarType::Bool},
}};

std::string supported_dtype_list() {
  std::vector<std::string> names;
  for (const auto& entry : kDtypeNames) names.emplace_back(entry.name);
  return join(names);
}

std::optional<std::string> stored_name_of(c10::ScalarType dtype) {
  for (const auto& entry : kDtypeNames) {
    if (entry.dtype == dtype) return entry.name;
  }
  return std::nullopt;
}

// numel × element size, or nullopt when it overflows 64 bits (a corrupt header, never a real tensor). The
// element count must fit in int64 even when a zero dimension makes it 0, because TensorInfo::numel and ATen
// multiply the dimensions in int64 in order: [2^62, 2, 0] would overflow before reaching the 0.
std::optional<uint64_t> byte_size_of(const std::vector<int64_t>& shape, c10::ScalarType dtype) {
  int64_t nonzero_elements = 1;
  bool empty = false;
  for (const int64_t dim : shape) {
    if (dim == 0) {
      empty = true;
    } else if (__builtin_mul_overflow(nonzero_elements, dim, &nonzero_elements)) {
      return std::nullopt;
    }
  }
  uint64_t size = 0;
  if (__builtin_mul_overflow(static_cast<uint64_t>(nonzero_elements), c10::elementSize(dtype), &size)) {
    return std::nullopt;
  }
  return empty ? 0 : size;
}

// Reads a JSON array of non-negative integers; nullopt when `value` is anything else.
std::optional<std::vector<uint64_t>> unsigned_array(const nlohmann::json& value) {
  if (!value.is_array()) return std::nullopt;
  std::vector<uint64_t> numbers;
  for (const auto& element : value) {
    if (!element.is_number_unsigned()) return std::nullopt;
    numbers.push_back(element.get<uint64_t>());
  }
  return numbers;
}

}  // namespace

int64_t TensorInfo::numel() const {
  int64_t count = 1;
  for (const int64_t dim : shape) count *= dim;
  return count;
}

std::string safetensors_dtype_name(c10::ScalarType dtype) {
  const auto name = stored_name_of(dtype);
  TESSERA_CHECK(name.has_value(), "safetensors cannot store dtype ", c10::toString(dtype), " (it stores ",
                supported_dtype_list(), ")");
  return *name;
}

std::optional<c10::ScalarType> dtype_from_safetensors_name(const std::string& name) {
  for (const auto& entry : kDtypeNames) {
    if (name == entry.name) return entry.dtype;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------------------
// Reader

// The whole file mapped read-only; unmapped when the last SafetensorsFile copy goes.
class SafetensorsFile::Mapping {
 public:
  explicit Mapping(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    TESSERA_CHECK(fd >= 0, "cannot open safetensors file ", path, ": ", std::strerror(errno));
    struct stat status {};
    if (::fstat(fd, &status) != 0) {
      const int error = errno;
      ::close(fd);
      TESSERA_CHECK(false, "cannot stat safetensors file ", path, ": ", std::strerror(error));
    }
    size_ = static_cast<uint64_t>(status.st_size);
    if (size_ == 0) {
      ::close(fd);
      return;  // mmap refuses empty files; the header check reports this one as too short
    }
    void* address = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    const int error = errno;
    ::close(fd);  // the mapping keeps the file alive
    TESSERA_CHECK(address != MAP_FAILED, "cannot map safetensors file ", path, ": ", std::strerror(error));
    bytes_ = static_cast<const uint8_t*>(address);
  }
  ~Mapping() {
    if (bytes_ != nullptr) ::munmap(const_cast<uint8_t*>(bytes_), size_);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  const uint8_t* bytes() const { return bytes_; }
  uint64_t size() const { return size_; }

 private:
  const uint8_t* bytes_ = nullptr;
  uint64_t size_ = 0;
};

SafetensorsHeader parse_safetensors_header(const uint8_t* bytes, uint64_t size, const std::string& path) {
  TESSERA_CHECK(size >= sizeof(uint64_t), "safetensors file ", path, " is ", size, " bytes long, too short to hold ",
                "the 8-byte header length; it is truncated or not safetensors");
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes, sizeof(header_size));
  TESSERA_CHECK(header_size <= size - sizeof(header_size), "safetensors file ", path, ": header length ",
                header_size, " is larger than the ", size - sizeof(header_size),
                " bytes that follow it; the file is truncated or not safetensors");
  const char* header_begin = reinterpret_cast<const char*>(bytes) + sizeof(header_size);
  SafetensorsHeader result;
  result.data_offset = sizeof(header_size) + header_size;
  const uint64_t data_size = size - result.data_offset;

  nlohmann::json header;
  // Not only parse_error: a number beyond a double (1e400) throws out_of_range.
  try {
    header = nlohmann::json::parse(header_begin, header_begin + header_size);
  } catch (const nlohmann::json::exception& error) {
    TESSERA_CHECK(false, "safetensors file ", path, ": header is not valid JSON: ", error.what());
  }
  TESSERA_CHECK(header.is_object(), "safetensors file ", path, ": header must be a JSON object, not ",
                header.type_name());

  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      TESSERA_CHECK(entry.is_object(), "safetensors file ", path, ": \"__metadata__\" must be an object");
      for (const auto& [key, value] : entry.items()) {
        TESSERA_CHECK(value.is_string(), "safetensors file ", path, ": \"__metadata__\" value of \"", key,
                      "\" must be a string, not ", value.type_name());
        result.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    const std::string where = "safetensors file " + path + ": tensor '" + name + "'";
    TESSERA_CHECK(entry.is_object(), where, " must be described by an object, not ", entry.type_name());
    const auto dtype_it = entry.find("dtype");
    TESSERA_CHECK(dtype_it != entry.end() && dtype_it->is_string(), where, " has no \"dtype\" string");
    const auto dtype = dtype_from_safetensors_name(dtype_it->get<std::string>());
    TESSERA_CHECK(dtype.has_value(), where, " has unknown dtype '", dtype_it->get<std::string>(),
                  "' (supported: ", supported_dtype_list(), ")");
    const auto shape_it = entry.find("shape");
    const auto shape = shape_it == entry.end() ? std::nullopt : unsigned_array(*shape_it);
    TESSERA_CHECK(shape.has_value(), where, " has no \"shape\" array of non-negative integers");
    const auto offsets_it = entry.find("data_offsets");
    const auto offsets = offsets_it == entry.end() ? std::nullopt : unsigned_array(*offsets_it);
    TESSERA_CHECK(offsets.has_value() && offsets->size() == 2, where,
                  " has no \"data_offsets\" pair of non-negative integers [begin, end]");

    TensorInfo info;
    info.dtype = *dtype;
    for (const uint64_t dim : *shape) {
      TESSERA_CHECK(dim <= static_cast<uint64_t>(INT64_MAX), where, " has an impossible dimension ", dim);
      info.shape.push_back(static_cast<int64_t>(dim));
    }
    info.data_begin = (*offsets)[0];
    info.data_end = (*offsets)[1];
    TESSERA_CHECK(info.data_begin <= info.data_end, where, " has data_offsets [", info.data_begin, ", ",
                  info.data_end, "] that end before they begin");
    const auto expected_size = byte_size_of(info.shape, info.dtype);
    TESSERA_CHECK(expected_size.has_value() && *expected_size == info.byte_size(), where, " has shape ",
                  c10::IntArrayRef(info.shape), " and dtype ", dtype_it->get<std::string>(), ", which need ",
                  expected_size ? std::to_string(*expected_size) : std::string("more than 2^63 elements or 2^64"),
                  " bytes, but its data_offsets [", info.data_begin, ", ", info.data_end, "] span ",
                  info.byte_size());
    result.tensors.emplace(name, std::move(info));
  }

  // The tensors must tile the data section exactly, in some order: no overlaps, no gaps, nothing after.
  std::vector<std::pair<const std::string*, const TensorInfo*>> by_offset;
  for (const auto& [name, info] : result.tensors) by_offset.emplace_back(&name, &info);
  std::sort(by_offset.begin(), by_offset.end(), [](const auto& a, const auto& b) {
    return std::make_pair(a.second->data_begin, a.second->data_end) <
           std::make_pair(b.second->data_begin, b.second->data_end);
  });
  uint64_t covered = 0;
  const std::string* previous = nullptr;
  for (const auto& [name, info] : by_offset) {
    TESSERA_CHECK(info->data_begin >= covered, "safetensors file ", path, ": tensor '", *name, "' (bytes [",
                  info->data_begin, ", ", info->data_end, ")) overlaps tensor '", previous ? *previous : "",
                  "' (which ends at ", covered, ")");
    TESSERA_CHECK(info->data_begin == covered, "safetensors file ", path, ": data bytes [", covered, ", ",
                  info->data_begin, ") belong to no tensor (a gap before tensor '", *name, "')");
    covered = info->data_end;
    previous = name;
  }
  TESSERA_CHECK(data_size >= covered, "safetensors file ", path, " is truncated: expected ", covered,
                " bytes of tensor data, found ", data_size, "; re-download or re-save the file");
  TESSERA_CHECK(data_size == covered, "safetensors file ", path, ": ", data_size - covered,
                " bytes follow the last tensor's data (expected ", covered, " bytes of tensor data, found ",
                data_size, "); the file is corrupt");
  return result;
}

SafetensorsFile::SafetensorsFile(std::string path) : path_(std::move(path)) {
  mapping_ = std::make_shared<const Mapping>(path_);
  SafetensorsHeader header = parse_safetensors_header(mapping_->bytes(), mapping_->size(), path_);
  data_section_ = mapping_->bytes() + header.data_offset;
  tensors_ = std::move(header.tensors);
  metadata_ = std::move(header.metadata);
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> names;
  names.reserve(tensors_.size());
  for (const auto& [name, info] : tensors_) names.push_back(name);
  return names;
}

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
  const auto it = tensors_.find(name);
  TESSERA_CHECK(it != tensors_.end(), "safetensors file ", path_, " has no tensor '", name, "'");
  return it->second;
}

namespace {

// Elements [begin, begin + count) of the tensor whose data starts at `data` (in the file's dtype), viewed in place
// when aligned, and a function that hands their pages back once they are copied.
struct FileElements {
  at::Tensor tensor;
  const uint8_t* bytes;
  size_t size;
};

FileElements file_elements(const uint8_t* data, const TensorInfo& entry, int64_t begin, int64_t count,
                           c10::IntArrayRef shape) {
  const size_t element = c10::elementSize(entry.dtype);
  const uint8_t* bytes = data + entry.data_begin + static_cast<size_t>(begin) * element;
  const size_t size = static_cast<size_t>(count) * element;
  const auto file_options = at::TensorOptions().dtype(entry.dtype);
  at::Tensor in_file;
  if (reinterpret_cast<uintptr_t>(bytes) % element == 0) {
    // A view of the read-only mapping; safe because it is only ever copied from.
    in_file = at::from_blob(const_cast<uint8_t*>(bytes), shape, file_options);
  } else {
    // The format does not promise aligned offsets, and kernels may assume aligned elements.
    in_file = at::empty(shape, file_options);
    std::memcpy(in_file.data_ptr(), bytes, size);
  }
  return {in_file, bytes, size};
}

// The copy is all that is needed: the file's pages go back to the page cache rather than counting in this process's
// resident memory, so loading a checkpoint holds its weights once, not twice.
void release_pages(const FileElements& elements) {
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t first = reinterpret_cast<uintptr_t>(elements.bytes) / page * page;
  const uintptr_t end = reinterpret_cast<uintptr_t>(elements.bytes) + elements.size;
  ::madvise(reinterpret_cast<void*>(first), end - first, MADV_DONTNEED);
}

}  // namespace

at::Tensor SafetensorsFile::load(const std::string& name, std::optional<c10::ScalarType> dtype,
                                 c10::Device device) const {
  const TensorInfo& entry = info(name);
  const c10::ScalarType target = dtype.value_or(entry.dtype);
  if (entry.byte_size() == 0) return at::empty(entry.shape, at::TensorOptions().dtype(target).device(device));
  const FileElements elements = file_elements(data_section_, entry, 0, entry.numel(), entry.shape);
  at::Tensor loaded = elements.tensor.to(device, target, /*non_blocking=*/false, /*copy=*/true);
  release_pages(elements);
  return loaded;
}

void SafetensorsFile::load_elements_into(const std::string& name, int64_t begin, at::Tensor& destination) const {
  const TensorInfo& entry = info(name);
  const int64_t count = destination.numel();
  TESSERA_CHECK(destination.dim() == 1 && begin >= 0 && begin + count <= entry.numel(), "safetensors file ", path_,
                ": elements [", begin, ", ", begin + count, ") of tensor '", name, "' (", entry.numel(),
                " elements) cannot be read into a tensor of shape ", destination.sizes());
  if (count == 0) return;
  const FileElements elements = file_elements(data_section_, entry, begin, count, {count});
  destination.copy_(elements.tensor);
  release_pages(elements);
}

// ---------------------------------------------------------------------------------------------------------
// Writer

namespace {

// A file written under a temporary name and renamed into place by commit(); removed if never committed.
class TemporaryFile {
 public:
  explicit TemporaryFile(std::string target)
      : target_(std::move(target)), temporary_(target_ + ".tmp." + std::to_string(::getpid())) {
    stream_ = std::fopen(temporary_.c_str(), "wb");
    TESSERA_CHECK(stream_ != nullptr, "cannot write ", temporary_, ": ", std::strerror(errno));
  }
  ~TemporaryFile() {
    if (stream_ != nullptr) std::fclose(stream_);
    if (!committed_) std::remove(temporary_.c_str());
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;

  void write(const void* data, size_t size) {
    TESSERA_CHECK(size == 0 || std::fwrite(data, 1, size, stream_) == size, "writing ", temporary_,
                  " failed: ", std::strerror(errno));
  }
  void commit() {
    const bool closed = std::fclose(stream_) == 0;
    stream_ = nullptr;
    TESSERA_CHECK(closed, "writing ", temporary_, " failed: ", std::strerror(errno));
    TESSERA_CHECK(std::rename(temporary_.c_str(), target_.c_str()) == 0, "cannot rename ", temporary_, " to ",
                  target_, ": ", std::strerror(errno));
    committed_ = true;
  }

 private:
  std::string target_;
  std::string temporary_;
  std::FILE* stream_ = nullptr;
  bool committed_ = false;
};

}  // namespace

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::set<std::string> seen;
  for (const auto& [name, tensor] : tensors) {
    TESSERA_CHECK(!name.empty(), "save_safetensors(", path, "): a tensor has an empty name");
    TESSERA_CHECK(name != "__metadata__", "save_safetensors(", path, "): \"__metadata__\" is reserved");
    TESSERA_CHECK(seen.insert(name).second, "save_safetensors(", path, "): tensor '", name,
                  "' appears twice");
    TESSERA_CHECK(tensor.defined(), "save_safetensors(", path, "): tensor '", name, "' is undefined");
    TESSERA_CHECK(stored_name_of(tensor.scalar_type()).has_value(), "save_safetensors(", path, "): tensor '",
                  name, "' has dtype ", c10::toString(tensor.scalar_type()),
                  ", which safetensors cannot store (it stores ", supported_dtype_list(), ")");
  }

  // Widest elements first, as the Python writer does: with the data section starting 8-aligned, every
  // tensor then starts aligned to its element size.
  std::vector<const std::pair<std::string, at::Tensor>*> order;
  for (const auto& entry : tensors) order.push_back(&entry);
  std::stable_sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    return a->second.element_size() > b->second.element_size();
  });

  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto* entry : order) {
    const at::Tensor& tensor = entry->second;
    const uint64_t size = static_cast<uint64_t>(tensor.numel()) * tensor.element_size();
    header[entry->first] = {{"dtype", safetensors_dtype_name(tensor.scalar_type())},
                            {"shape", tensor.sizes().vec()},
                            {"data_offsets", {offset, offset + size}}};
    offset += size;
  }
  std::string header_text = header.dump();
  header_text.resize((header_text.size() + 7) / 8 * 8, ' ');  // the format pads the header with spaces
  const uint64_t header_size = header_text.size();

  TemporaryFile file(path);
  file.write(&header_size, sizeof(header_size));
  file.write(header_text.data(), header_text.size());
  for (const auto* entry : order) {
    // One tensor at a time on the CPU, so a large GPU state dict is never copied whole.
    const at::Tensor bytes = entry->second.detach().to(at::kCPU).contiguous();
    file.write(bytes.data_ptr(), static_cast<size_t>(bytes.numel()) * bytes.element_size());
  }
  file.commit();
}

}  // namespace tessera::io
