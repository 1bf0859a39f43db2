#include "launch/parallel_options.h"

#include <chrono>
#include <functional>

#include "common/check.h"
#include "common/log.h"
#include "launch/attention_heads.h"
#include "launch/cli_options.h"
#include "parallel/mpi_runtime.h"
#include "parallel/world_communicator.h"
#include "src/models/load_model.h"

namespace tessera::cli {

void add_model_options(cxxopts::Options& options, const std::string& group) {
  options.add_options(group)
      ("model", "diffusers model directory (config.json + safetensors weights)", cxxopts::value<std::string>())
      ("dtype", "fp32, bf16 or fp16; auto: bf16 on a CUDA device, fp32 on the CPU", cxxopts::value<std::string>()->default_value("auto"))
      ("shard-weights", "each rank keeps 1/N of the model's weights and gathers each block's just before it runs: "
                        "the same output, weights per rank falling as 1/N (docs/shard_weights.md)");
}

void add_parallel_options(cxxopts::Options& options, const std::string& group, bool cfg) {
  options.add_options(group)
      ("ulysses", "Ulysses (all-to-all) degree. Without --ulysses and --ring, every rank of the launch works: Ulysses "
                  "takes the largest share of the ranks that divides the model's attention heads, Ring the rest; "
                  "with one of them, the other takes the ranks it leaves", cxxopts::value<int>())
      ("ring", "Ring attention degree (see --ulysses for its default)", cxxopts::value<int>());
  if (cfg) {
    options.add_options(group)
        ("cfg", "CFG-parallel degree: 2 runs the conditional and unconditional branches on separate rank groups "
                "(never chosen by default: 1 unless given)",
         cxxopts::value<int>());
  }
  options.add_options(group)
      ("backend", "communication backend: auto, mpi or nccl", cxxopts::value<std::string>()->default_value("auto"));
}

std::optional<c10::ScalarType> dtype_from_flags(const std::string& program, const cxxopts::ParseResult& parsed) {
  const auto name = parsed["dtype"].as<std::string>();
  if (name == "auto") return std::nullopt;
  return usage_checked(program, [&] { return parse_dtype(name); });
}

c10::ScalarType dtype_for_device(std::optional<c10::ScalarType> requested, c10::Device device) {
  return requested.value_or(device.is_cuda() ? c10::ScalarType::BFloat16 : c10::ScalarType::Float);
}

std::string backend_from_flags(const std::string& program, const cxxopts::ParseResult& parsed) {
  const auto backend = parsed["backend"].as<std::string>();
  usage_checked(program, [&] { check_backend_name(backend); });
  return backend;
}

GivenDegrees given_degrees(const cxxopts::ParseResult& parsed) {
  GivenDegrees given;
  if (parsed.count("ulysses")) given.ulysses = parsed["ulysses"].as<int>();
  if (parsed.count("ring")) given.ring = parsed["ring"].as<int>();
  if (parsed.count("cfg")) given.cfg = parsed["cfg"].as<int>();
  return given;
}

namespace {

// complete(heads) for `program`: its errors are usage errors, except those of reading the model in `model_dir`
// for its head count, which fail as loading the model would.
template <typename Complete>
auto complete_with_heads(const std::string& program, const std::string& model_dir, Complete&& complete) {
  bool reading_model = false;
  const std::function<int64_t()> heads = [&] {
    reading_model = true;
    const int64_t count = attention_heads(model_dir);
    reading_model = false;
    return count;
  };
  try {
    return complete(heads);
  } catch (const Error& error) {
    if (reading_model) throw;
    throw UsageError(detail::concat(program, ": ", error.what()));
  }
}

}  // namespace

CompletedDegrees degrees_from_flags(const std::string& program, const cxxopts::ParseResult& parsed, int ranks,
                                    const std::string& model_dir) {
  return complete_with_heads(program, model_dir, [&](const std::function<int64_t()>& heads) {
    return complete_degrees(ranks, given_degrees(parsed), heads);
  });
}

DataParallelDegrees data_parallel_degrees_from_flags(const std::string& program, const cxxopts::ParseResult& parsed,
                                                     int world, const std::string& model_dir) {
  const std::optional<int> dp = parsed.count("dp") ? std::optional<int>(parsed["dp"].as<int>()) : std::nullopt;
  return complete_with_heads(program, model_dir, [&](const std::function<int64_t()>& heads) {
    return complete_data_parallel(world, dp, given_degrees(parsed), heads);
  });
}

std::shared_ptr<DeviceMesh> make_device_mesh(const std::string& program, const cxxopts::ParseResult& parsed,
                                             const MpiRuntime& runtime, const DeviceBinding& binding,
                                             const std::string& model_dir) {
  const CompletedDegrees degrees = degrees_from_flags(program, parsed, runtime.world_size(), model_dir);
  const ParallelConfig& config = degrees.config;
  // One rank has nothing to choose between: no line for it.
  if (runtime.world_rank() == 0 && runtime.world_size() > 1 && !degrees.chosen.empty()) {
    TESSERA_LOG_INFO("using ", runtime.world_size(), " rank(s): ulysses ", config.ulysses, " x ring ", config.ring,
                     " x cfg ", config.cfg, " (", degrees.chosen, ")");
  }
  return std::make_shared<DeviceMesh>(make_world_communicator(backend_from_flags(program, parsed), binding.placement),
                                      config);
}

c10::Device torch_device(const DeviceBinding& binding) {
  return binding.cuda ? c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(binding.cuda_index))
                      : c10::Device(c10::kCPU);
}

std::shared_ptr<Model> load_model(const cxxopts::ParseResult& parsed, c10::ScalarType dtype, c10::Device device,
                                  const std::shared_ptr<DeviceMesh>& mesh) {
  const auto model_dir = parsed["model"].as<std::string>();
  const auto start = std::chrono::steady_clock::now();
  auto model =
      tessera::load_model(model_dir, dtype, device, parsed.count("shard-weights") ? std::shared_ptr<Communicator>(mesh, &mesh->world()) : nullptr);
  TESSERA_LOG_INFO("loaded ", model->class_name(), " from ", model_dir, " (", model->metadata().parameter_count,
                   " parameters) in ", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                   " s");
  return model;
}

}  // namespace tessera::cli
