#include "launch/parallel_options.h"

#include <chrono>

#include "common/check.h"
#include "common/log.h"
#include "launch/cli_options.h"
#include "parallel/mpi_runtime.h"
#include "parallel/world_communicator.h"
#include "src/models/load_model.h"

namespace tessera::cli {

void add_model_options(cxxopts::Options& options, const std::string& group) {
  options.add_options(group)
      ("model", "diffusers model directory (config.json + safetensors weights)", cxxopts::value<std::string>())
      ("dtype", "fp32, bf16 or fp16; auto: bf16 on a CUDA device, fp32 on the CPU", cxxopts::value<std::string>()->default_value("auto"));
}

void add_parallel_options(cxxopts::Options& options, const std::string& group, bool cfg) {
  options.add_options(group)
      ("ulysses", "Ulysses (all-to-all) degree", cxxopts::value<int>()->default_value("1"))
      ("ring", "Ring attention degree", cxxopts::value<int>()->default_value("1"));
  if (cfg) {
    options.add_options(group)
        ("cfg", "CFG-parallel degree: 2 runs the conditional and unconditional branches on separate rank groups",
         cxxopts::value<int>()->default_value("1"));
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

std::shared_ptr<DeviceMesh> make_device_mesh(const std::string& program, const cxxopts::ParseResult& parsed,
                                             const MpiRuntime& runtime, const DeviceBinding& binding) {
  const ParallelConfig config{parsed["ulysses"].as<int>(), parsed["ring"].as<int>(),
                              parsed.count("cfg") ? parsed["cfg"].as<int>() : 1};
  usage_checked(program, [&] { validate(config, runtime.world_size()); });
  return std::make_shared<DeviceMesh>(make_world_communicator(backend_from_flags(program, parsed), binding.placement),
                                      config);
}

c10::Device torch_device(const DeviceBinding& binding) {
  return binding.cuda ? c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(binding.cuda_index))
                      : c10::Device(c10::kCPU);
}

std::shared_ptr<Model> load_model(const cxxopts::ParseResult& parsed, c10::ScalarType dtype, c10::Device device) {
  const auto model_dir = parsed["model"].as<std::string>();
  const auto start = std::chrono::steady_clock::now();
  auto model = tessera::load_model(model_dir, dtype, device);
  TESSERA_LOG_INFO("loaded ", model->class_name(), " from ", model_dir, " (", model->metadata().parameter_count,
                   " parameters) in ", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                   " s");
  return model;
}

}  // namespace tessera::cli
