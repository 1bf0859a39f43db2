#include "src/io/weight_source.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/join.h"
#include "common/check.h"
#include "src/io/json_file.h"

namespace tessera::io {
namespace {

constexpr const char* kSingleFile = "diffusion_pytorch_model.safetensors";
constexpr const char* kIndexFile = "diffusion_pytorch_model.safetensors.index.json";
constexpr size_t kNamesListed = 10;  // error messages list this many names, then a count

// POSIX rather than std::filesystem: the torch wheel's libtorch exports its own std::filesystem symbols.
bool is_regular_file(const std::string& path) {
  struct stat status {};
  return ::stat(path.c_str(), &status) == 0 && S_ISREG(status.st_mode);
}

bool is_directory(const std::string& path) {
  struct stat status {};
  return ::stat(path.c_str(), &status) == 0 && S_ISDIR(status.st_mode);
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Regular files in `dir`, sorted.
std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> names;
  DIR* listing = ::opendir(dir.c_str());
  TESSERA_CHECK(listing != nullptr, "cannot list model directory ", dir);
  while (const dirent* entry = ::readdir(listing)) {
    const std::string name = entry->d_name;
    if (is_regular_file(dir + "/" + name)) names.push_back(name);
  }
  ::closedir(listing);
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> with_suffix(const std::vector<std::string>& names, const std::string& suffix) {
  std::vector<std::string> matching;
  std::copy_if(names.begin(), names.end(), std::back_inserter(matching),
               [&](const std::string& name) { return ends_with(name, suffix); });
  return matching;
}

// "a, b, c" — the first kNamesListed, then "... (N in all)".
std::string name_list(const std::vector<std::string>& names) { return join_first(names, kNamesListed); }

// A relative path with no ".." component: a name that cannot leave the directory it is resolved in.
bool stays_inside(const std::string& relative) {
  if (relative.empty() || relative.front() == '/') return false;
  size_t start = 0;
  while (start <= relative.size()) {
    const size_t end = std::min(relative.find('/', start), relative.size());
    if (relative.compare(start, end - start, "..") == 0) return false;
    start = end + 1;
  }
  return true;
}

std::string parent_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

WeightSource WeightSource::open_dir(const std::string& model_dir) {
  std::string dir = model_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();  // so that paths in messages read "dir/file"
  TESSERA_CHECK(is_directory(dir), "model directory ", dir, " does not exist");
  if (is_regular_file(dir + "/" + kSingleFile)) return open_file(dir + "/" + kSingleFile);
  if (is_regular_file(dir + "/" + kIndexFile)) return open_index(dir + "/" + kIndexFile);

  const std::vector<std::string> files = files_in(dir);
  const std::vector<std::string> indexes = with_suffix(files, ".safetensors.index.json");
  TESSERA_CHECK(indexes.size() <= 1, "model directory ", dir, " holds several safetensors indexes (",
                name_list(indexes), ") and no ", kIndexFile, "; keep only one");
  if (indexes.size() == 1) return open_index(dir + "/" + indexes.front());
  const std::vector<std::string> weights = with_suffix(files, ".safetensors");
  TESSERA_CHECK(weights.size() <= 1, "model directory ", dir, " holds several .safetensors files (",
                name_list(weights), ") but no ", kIndexFile, " saying which tensor is in which");
  if (weights.size() == 1) return open_file(dir + "/" + weights.front());

  const bool has_bin = !with_suffix(files, ".bin").empty() || !with_suffix(files, ".pt").empty();
  TESSERA_CHECK(false, "no weights in model directory ", dir, ": looked for ", kSingleFile, ", ", kIndexFile,
                ", or a single *.safetensors file",
                has_bin ? " (PyTorch .bin/.pt weights are not read; save the model as safetensors)" : "");
}

WeightSource WeightSource::open_file(const std::string& path) {
  WeightSource source;
  source.origin_ = path;
  source.files_.emplace_back(path);
  for (const std::string& name : source.files_.front().names()) source.file_index_[name] = 0;
  return source;
}

WeightSource WeightSource::open_index(const std::string& index_path) {
  const nlohmann::json index = read_json_object(index_path, "the safetensors index of a sharded checkpoint");
  const auto weight_map = index.find("weight_map");
  TESSERA_CHECK(weight_map != index.end() && weight_map->is_object(),
                "safetensors index ", index_path,
                " has no \"weight_map\" object (tensor name -> shard file)");

  // Shard file name -> the tensors the index places there, sorted (JSON objects iterate in key order).
  std::map<std::string, std::vector<std::string>> tensors_of_shard;
  for (const auto& [name, shard] : weight_map->items()) {
    TESSERA_CHECK(shard.is_string(), "safetensors index ", index_path, ": \"weight_map\" entry '", name,
                  "' must name a shard file, not ", shard.type_name());
    const std::string shard_name = shard.get<std::string>();
    // The index is data from the checkpoint: it must not point the reader at files outside the model directory.
    TESSERA_CHECK(stays_inside(shard_name), "safetensors index ", index_path, ": \"weight_map\" entry '", name,
                  "' names shard \"", shard_name, "\", which is not a file inside the model directory (an absolute ",
                  "path or one with '..'); shards are named relative to the index, e.g. ",
                  "diffusion_pytorch_model-00001-of-00002.safetensors");
    tensors_of_shard[shard_name].push_back(name);
  }

  WeightSource source;
  source.origin_ = index_path;
  const std::string dir = parent_of(index_path);
  for (const auto& [shard, listed] : tensors_of_shard) {
    const std::string shard_path = dir + "/" + shard;
    TESSERA_CHECK(is_regular_file(shard_path), "safetensors index ", index_path, " places ", listed.size(),
                  " tensors (", name_list(listed), ") in shard ", shard, ", which does not exist in ", dir);
    const SafetensorsFile& file = source.files_.emplace_back(shard_path);
    std::vector<std::string> absent;
    for (const std::string& name : listed) {
      if (!file.contains(name)) absent.push_back(name);
    }
    TESSERA_CHECK(absent.empty(), "safetensors index ", index_path, " places ", absent.size(),
                  " tensors in shard ", shard_path, ", which does not hold them: ", name_list(absent));
    std::vector<std::string> unlisted;
    for (const std::string& name : file.names()) {
      if (!std::binary_search(listed.begin(), listed.end(), name)) unlisted.push_back(name);
    }
    // A shard's extra tensors would be silently ignored, or shadow the index's choice; both hide a bad save.
    TESSERA_CHECK(unlisted.empty(), "shard ", shard_path, " holds ", unlisted.size(), " tensors that ",
                  "safetensors index ", index_path, " does not place there: ", name_list(unlisted));
    for (const std::string& name : listed) source.file_index_[name] = source.files_.size() - 1;
  }
  return source;
}

std::vector<std::string> WeightSource::names() const {
  std::vector<std::string> names;
  names.reserve(file_index_.size());
  for (const auto& [name, index] : file_index_) names.push_back(name);
  return names;
}

const SafetensorsFile& WeightSource::file_holding(const std::string& name) const {
  const auto it = file_index_.find(name);
  TESSERA_CHECK(it != file_index_.end(), "weights ", origin_, " have no tensor '", name, "'");
  return files_[it->second];
}

const TensorInfo& WeightSource::info(const std::string& name) const { return file_holding(name).info(name); }

at::Tensor WeightSource::load(const std::string& name, std::optional<c10::ScalarType> dtype,
                              c10::Device device) const {
  return file_holding(name).load(name, dtype, device);
}

void WeightSource::load_elements_into(const std::string& name, int64_t begin, at::Tensor& destination) const {
  file_holding(name).load_elements_into(name, begin, destination);
}

const std::string& WeightSource::file_of(const std::string& name) const { return file_holding(name).path(); }

void WeightSource::keep_only_prefixes(const std::vector<std::string>& prefixes) {
  for (auto entry = file_index_.begin(); entry != file_index_.end();) {
    const bool kept = std::any_of(prefixes.begin(), prefixes.end(),
                                  [&](const std::string& prefix) { return entry->first.rfind(prefix, 0) == 0; });
    entry = kept ? std::next(entry) : file_index_.erase(entry);
  }
}

}  // namespace tessera::io
