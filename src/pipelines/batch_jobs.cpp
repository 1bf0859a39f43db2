#include "src/pipelines/batch_jobs.h"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <type_traits>

#include "common/check.h"
#include "src/io/json_integer.h"

namespace tessera {
namespace {

bool safe_id(const std::string& id) {
  if (id.empty() || id.size() > 200 || id[0] == '.') return false;
  for (const unsigned char c : id) {
    if (!(std::isalnum(c) || c == '-' || c == '_' || c == '.')) return false;
  }
  return true;
}

// Reads the optional field `key` of `line` into `target`, or returns why it cannot. Integers are range-checked
// (at least `min`) before narrowing: get<int> would wrap 1e10 into a plausible step count.
template <typename T>
std::string read_field(const nlohmann::json& line, const char* key, std::optional<T>& target,
                       std::common_type_t<T> min = std::numeric_limits<T>::lowest()) {
  const auto found = line.find(key);
  if (found == line.end()) return "";
  try {
    if constexpr (std::is_integral_v<T>) {
      target = io::json_integer<T>(*found, std::string("\"") + key + "\"", min);
    } else {
      target = found->get<T>();
    }
  } catch (const nlohmann::json::exception&) {
    return std::string("\"") + key + "\" has the wrong type: " + found->dump();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

std::string parse_job(const nlohmann::json& line, BatchJob& job) {
  static const std::set<std::string> known = {"id",     "prompt", "negative_prompt", "steps", "guidance_scale",
                                              "guidance_scale_2", "seed", "height", "width", "frames",
                                              "image",  "last_image", "cache", "format", "loras"};
  if (!line.is_object()) return "a job line must be a JSON object, got " + line.dump();
  for (const auto& [key, value] : line.items()) {
    if (known.count(key) == 0) return "unknown field \"" + key + "\" (fields: id, prompt, negative_prompt, steps, "
                                      "guidance_scale, guidance_scale_2, seed, height, width, frames, image, "
                                      "last_image, cache, format, loras)";
  }
  std::optional<std::string> id, prompt, format;
  std::optional<uint64_t> seed;
  std::optional<int> steps;
  std::optional<double> guidance, guidance_2;
  std::optional<int64_t> height, width, frames;
  std::optional<std::string> negative, cache, image, last_image;
  for (const std::string& error :
       {read_field(line, "id", id), read_field(line, "prompt", prompt), read_field(line, "format", format),
        read_field(line, "seed", seed), read_field(line, "steps", steps, 1),
        read_field(line, "guidance_scale", guidance), read_field(line, "guidance_scale_2", guidance_2),
        read_field(line, "height", height, 1),
        read_field(line, "width", width, 1), read_field(line, "frames", frames, 1),
        read_field(line, "negative_prompt", negative), read_field(line, "cache", cache),
        read_field(line, "image", image), read_field(line, "last_image", last_image)}) {
    if (!error.empty()) return error;
  }
  if (id) job.id = *id;
  if (!safe_id(job.id)) return "id \"" + job.id + "\" is not a safe file name (letters, digits, - _ . only)";
  if (!prompt) return "no \"prompt\"";
  job.request.prompt = *prompt;
  if (negative) job.request.negative_prompt = negative;
  if (steps) job.request.steps = steps;
  if (guidance) job.request.guidance_scale = guidance;
  if (guidance_2) job.request.guidance_scale_2 = guidance_2;
  if (seed) job.request.seed = *seed;
  if (height) job.request.height = height;
  if (width) job.request.width = width;
  if (frames) job.request.frames = frames;
  if (image) job.request.image = image;
  if (last_image) job.request.last_image = last_image;
  if (cache) job.cache = *cache == "none" ? std::nullopt : cache;
  if (format) job.format = *format;
  if (job.format != "png" && job.format != "mp4") return "format \"" + job.format + "\" is not png or mp4";
  const auto loras = line.find("loras");
  if (loras != line.end()) {
    const std::string wanted = "\"loras\" must be a list of \"PATH[:SCALE]\" strings, got ";
    if (!loras->is_array()) return wanted + loras->dump();
    job.loras.emplace();
    for (const auto& spec : *loras) {
      if (!spec.is_string()) return wanted + loras->dump();
      try {
        job.loras->push_back(lora::parse_lora_spec(spec.get<std::string>()));
      } catch (const Error& error) {
        return error.what();
      }
    }
  }
  return "";
}

}  // namespace

std::vector<BatchJob> read_batch_jobs(const std::string& path, const GenerationRequest& defaults,
                                      const std::optional<std::string>& default_cache, const std::string& default_format) {
  std::ifstream stream(path);
  TESSERA_CHECK(stream.good(), "cannot read the jobs file ", path);
  std::vector<BatchJob> jobs;
  std::set<std::string> ids;
  std::string text;
  for (int64_t number = 1; std::getline(stream, text); ++number) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    BatchJob job;
    job.line = number;
    job.id = "line-" + std::to_string(number);
    job.request = defaults;
    job.cache = default_cache;
    job.format = default_format;
    // Not only parse_error: a number beyond a double (1e400) throws out_of_range.
    try {
      job.error = parse_job(nlohmann::json::parse(text), job);
    } catch (const nlohmann::json::exception& error) {
      job.error = std::string("not valid JSON: ") + error.what();
    }
    if (job.error.empty() && !ids.insert(job.id).second) job.error = "id \"" + job.id + "\" is used by an earlier line";
    if (!job.error.empty()) job.error = path + " line " + std::to_string(number) + ": " + job.error;
    jobs.push_back(std::move(job));
  }
  return jobs;
}

std::string BatchResult::to_json_line() const {
  nlohmann::ordered_json json = {{"id", id}, {"line", line}, {"status", status}, {"seconds", seconds}};
  if (group >= 0) json["group"] = group;
  if (!output.empty()) json["output"] = output;
  if (!error.empty()) json["error"] = error;
  return json.dump() + "\n";
}

std::vector<BatchResult> parse_batch_results(const std::string& text) {
  std::vector<BatchResult> results;
  std::istringstream stream(text);
  std::string line;
  while (std::getline(stream, line)) {
    nlohmann::json json;
    // Not only parse_error: a number beyond a double (1e400) throws out_of_range.
    try {
      json = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      continue;  // a torn line from a killed run: that job is simply not done
    }
    if (!json.is_object() || !json.contains("id") || !json["id"].is_string()) continue;
    BatchResult result;
    result.id = json["id"].get<std::string>();
    result.line = json.value("line", int64_t{0});
    result.status = json.value("status", std::string());
    result.seconds = json.value("seconds", 0.0);
    result.group = json.value("group", -1);
    result.output = json.value("output", std::string());
    result.error = json.value("error", std::string());
    results.push_back(std::move(result));
  }
  return results;
}

std::map<std::string, BatchResult> read_batch_results(const std::string& path) {
  std::map<std::string, BatchResult> last;
  std::ifstream stream(path);
  if (!stream.good()) return last;
  std::ostringstream text;
  text << stream.rdbuf();
  for (auto& result : parse_batch_results(text.str())) last[result.id] = std::move(result);
  return last;
}

void append_batch_results(const std::string& path, const std::string& lines) {
  if (lines.empty()) return;
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
  TESSERA_CHECK(fd >= 0, "cannot open ", path, " for appending: ", std::strerror(errno));
  const ssize_t written = ::write(fd, lines.data(), lines.size());
  const int saved = errno;
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  TESSERA_CHECK(written == static_cast<ssize_t>(lines.size()) && synced, "cannot append to ", path, ": ",
                std::strerror(saved));
}

std::string batch_output_path(const std::string& out_dir, const BatchJob& job) {
  return out_dir + "/" + job.id + "." + job.format;
}

bool batch_job_done(const BatchJob& job, const std::map<std::string, BatchResult>& results, const std::string& out_dir) {
  const auto found = results.find(job.id);
  return found != results.end() && found->second.status == "ok" &&
         std::filesystem::is_regular_file(batch_output_path(out_dir, job));
}

int remove_stale_temporaries(const std::string& out_dir) {
  int removed = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(out_dir, error)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.find(".tmp.") != std::string::npos) {
      removed += std::filesystem::remove(entry.path(), error) ? 1 : 0;
    }
  }
  return removed;
}

}  // namespace tessera
