#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <numeric>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/check.h"
#include "common/join.h"
#include "common/log.h"
#include "kernels/cpu_block_cache.h"
#include "kernels/device_synchronize.h"
#include "launch/cli_options.h"
#include "launch/commands.h"
#include "launch/parallel_options.h"
#include "measure/op_profile.h"
#include "parallel/context_parallel.h"
#include "parallel/gather_text.h"
#include "parallel/mpi_runtime.h"
#include "parallel/parallel_config.h"
#include "src/io/safetensors.h"
#include "src/io/tensor_names.h"
#include "src/models/load_model.h"
#include "src/models/model.h"

namespace tessera {
namespace {

// Floating-point inputs follow the model's dtype, except the timestep, which the model embeds in fp32. Names
// the model does not take are refused: a misspelt one would be dropped silently.
Args read_inputs(const std::string& path, const Model& model, c10::ScalarType dtype, c10::Device device) {
  const io::SafetensorsFile file(path);
  const std::vector<std::string> accepted = model.capabilities().inputs;
  const std::string reads = join(accepted);
  io::check_tensor_names(file, accepted, "tessera forward (" + model.class_name() + ")", reads);
  Args args;
  for (const auto& name : file.names()) {
    const auto& info = file.info(name);
    const bool cast = at::isFloatingType(info.dtype) && name != "timestep";
    args.set(name, file.load(name, cast ? std::optional<c10::ScalarType>(dtype) : std::nullopt, device));
  }
  TESSERA_CHECK(!args.empty(), path, " holds no tensors; it should hold the forward's arguments by their "
                "diffusers names (", reads, ")");
  return args;
}

// Every rank's bytes sent per operation, printed by rank 0 in rank order.
void print_stats(Communicator& world, const CommunicationStats& stats, const ParallelConfig& parallel) {
  std::ostringstream line;
  int64_t total = 0;
  for (const auto& [operation, entry] : stats) {
    line << " " << operation << " " << entry.bytes_sent << " B in " << entry.calls << " calls;";
    total += entry.bytes_sent;
  }
  const auto lines = all_gather_text(world, detail::concat("total ", total, " B;", line.str()));
  if (world.rank() != 0) return;
  std::cout << "communication per forward (" << parallel.to_string() << "), bytes sent by each rank:\n";
  for (size_t rank = 0; rank < lines.size(); ++rank) std::cout << "  rank " << rank << ": " << lines[rank] << "\n";
  std::cout << std::flush;
}

}  // namespace

int run_forward(int argc, char** argv, MpiRuntime& runtime) {
  auto options = cli::make_options(
      "forward", "Run one transformer forward: the model of a diffusers directory on the keyword arguments in a "
                 "safetensors file (diffusers names, e.g. hidden_states, timestep, encoder_hidden_states); writes "
                 "the output as 'sample'.");
  cli::add_model_options(options, "forward");
  options.add_options("forward")
      ("inputs", "safetensors file with the forward's arguments", cxxopts::value<std::string>())
      ("output", "safetensors file to write (rank 0, atomically)", cxxopts::value<std::string>());
  cli::add_parallel_options(options, "forward", /*cfg=*/false);
  options.add_options("forward")
      ("stats", "print the bytes each rank sent per operation during the (last) forward")
      ("repeat", "run the forward this many times and log the time per forward (benchmarking)",
       cxxopts::value<int>()->default_value("1"))
      ("timing-json", "write the per-forward times as JSON to this file (rank 0)", cxxopts::value<std::string>())
      ("profile-ops", "write rank 0's time per ATen op called by tessera's code, per forward after the first two "
                      "(the second packs the weights), as JSON to this file (benchmarks/profile_vs_diffusers.py)",
       cxxopts::value<std::string>());
  const auto parsed = cli::parse(options, argc, argv, runtime.world_rank() == 0);
  if (!parsed) return 0;
  const std::string program = options.program();
  cli::require(*parsed, program, {"model", "inputs", "output"});
  // Every flag is checked before the model loads.
  const auto requested_dtype = cli::dtype_from_flags(program, *parsed);
  const int repeat = cli::positive_flag(program, *parsed, "repeat");
  cli::check_output_flags(program, *parsed, {"output", "timing-json", "profile-ops"});
  const DeviceBinding binding = cli::configure_rank(program, runtime, *parsed);
  auto mesh = cli::make_device_mesh(program, *parsed, runtime, binding, (*parsed)["model"].as<std::string>());
  const ParallelConfig& parallel = mesh->config();
  const c10::Device device = cli::torch_device(binding);
  const c10::ScalarType dtype = cli::dtype_for_device(requested_dtype, device);
  const auto model = cli::load_model(*parsed, dtype, device, mesh);
  enable_parallelism(*model, model->context_parallel_plan(), mesh);
  const Args args = read_inputs((*parsed)["inputs"].as<std::string>(), *model, dtype, device);
  c10::InferenceMode inference;
  at::Tensor sample;
  std::vector<double> seconds;
  std::unique_ptr<OpProfile> profile;
  const CpuBlockCacheScope same_blocks_every_forward;  // the repeats allocate the same large blocks: reuse them
  // The first forward warms up (allocator, oneDNN's compiled kernels) and notes each Linear's row count, the second
  // packs the fp32 CPU weights for it (kernels/packed_linear.h): profiled are the ones after them.
  const int warmup = std::min(2, repeat - 1);
  for (int run = 0; run < repeat; ++run) {
    if (run == warmup && parsed->count("profile-ops")) profile = std::make_unique<OpProfile>();
    reset_context_parallel_stats(*mesh);
    synchronize_device(device);  // on CUDA the forward returns once enqueued: time the work, not the enqueue
    const auto forward_start = std::chrono::steady_clock::now();
    sample = (*model)(args).at(0);
    synchronize_device(device);
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - forward_start).count());
    TESSERA_LOG_INFO("forward ", run + 1, "/", repeat, ": sample ", sample.sizes(), " in ", seconds.back(), " s");
  }
  if (parsed->count("stats")) print_stats(mesh->world(), context_parallel_stats(*mesh), parallel);
  if (runtime.world_rank() == 0 && parsed->count("timing-json")) {
    write_file_atomically((*parsed)["timing-json"].as<std::string>(),
                          nlohmann::json({{"seconds", seconds}, {"threads", binding.threads}}).dump() + "\n");
  }
  if (runtime.world_rank() == 0 && profile) {
    const double forwards = repeat - warmup;
    nlohmann::json ops = nlohmann::json::object();
    for (const auto& [name, time] : profile->times()) {
      ops[name] = {{"calls", static_cast<double>(time.calls) / forwards}, {"seconds", time.seconds / forwards}};
    }
    const double forward_seconds = std::accumulate(seconds.end() - static_cast<int64_t>(forwards), seconds.end(), 0.0);
    write_file_atomically((*parsed)["profile-ops"].as<std::string>(),
                          nlohmann::json({{"forward_seconds", forward_seconds / forwards}, {"ops", ops}}).dump() + "\n");
  }
  if (runtime.world_rank() == 0) {
    const auto output = (*parsed)["output"].as<std::string>();
    io::save_safetensors(output, {{"sample", sample.cpu()}});
    TESSERA_LOG_INFO("wrote ", output);
  }
  return 0;
}

}  // namespace tessera
