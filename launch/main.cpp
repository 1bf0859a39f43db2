// The tessera command line: `tessera <subcommand> [options]`, launched directly or under mpirun.
#include <c10/util/Exception.h>

#include <cstring>
#include <iomanip>
#include <iostream>
#include <optional>

#include "common/log.h"
#include "launch/cli_options.h"
#include "launch/commands.h"
#include "launch/own_session.h"
#include "parallel/deadline.h"
#include "parallel/mpi_runtime.h"
#include "src/shapes/embedded_model.h"

namespace {

struct Subcommand {
  const char* name;
  const char* summary;
  int (*run)(int, char**, tessera::MpiRuntime&);
};

constexpr Subcommand kSubcommands[] = {
    {"generate", "a prompt in, an image (.png) or a clip (.mp4) out; the embedded model by default", tessera::run_generate},
    {"batch", "one output per line of a JSONL jobs file, in data-parallel groups, resumable", tessera::run_batch},
    {"info", "build, torch, CUDA, NCCL and MPI versions, and each rank's device", tessera::run_info},
    {"bench",
     "benchmarks: comm (collective bandwidth), cache (step caches: speed against quality), judge (the embedded "
     "model's prompts, judged), scaling (CP strategies over world sizes and sequence lengths)",
     tessera::run_bench},
    {"forward", "one transformer forward on inputs from a safetensors file (parity with diffusers)",
     tessera::run_forward},
    {"denoise", "the denoising loop from latents and prompt embeddings, with CFG, caches and parallelism",
     tessera::run_denoise},
    {"calibrate-magcache", "a model's MagCache ratios, measured in one uncached generation, to a file",
     tessera::run_calibrate_magcache},
    {"describe", "what a model supports: caches, CP plan, dtypes, attention backends", tessera::run_describe},
    {"train", "train the embedded default model from its recipe (procedural shapes, CPU)", tessera::run_train},
};

void print_usage(std::ostream& out) {
  out << "tessera: diffusion transformers across many GPUs (context parallelism over NCCL/MPI).\n\n"
         "usage: [mpirun -np N] tessera <subcommand> [options]\n\nsubcommands:\n";
  for (const auto& subcommand : kSubcommands) {
    out << "  " << std::left << std::setw(10) << subcommand.name;
    if (std::strlen(subcommand.name) >= 10) out << "\n" << std::setw(12) << "";  // a long name: summary below
    out << subcommand.summary << "\n";
  }
  out << "\n'tessera <subcommand> --help' lists a subcommand's options.\n";
}

const Subcommand* find_subcommand(const char* name) {
  for (const auto& subcommand : kSubcommands) {
    if (std::strcmp(subcommand.name, name) == 0) return &subcommand;
  }
  return nullptr;
}

std::string message_of(const std::exception& error) {
  if (const auto* torch_error = dynamic_cast<const c10::Error*>(&error)) return torch_error->what_without_backtrace();
  return error.what();
}

}  // namespace

int main(int argc, char** argv) {
  tessera::continue_in_own_session();  // before MPI and any thread: it may fork
  std::optional<tessera::MpiRuntime> runtime;
  // `tessera batch` alone calls MPI from a second thread (rank 0 deals jobs while it computes); every other
  // command keeps MPI to its main thread.
  const bool batch = argc >= 2 && std::strcmp(argv[1], "batch") == 0;
  try {
    runtime.emplace(&argc, &argv, batch ? tessera::MpiThreading::multiple : tessera::MpiThreading::funneled);
  } catch (const std::exception& error) {
    std::cerr << "tessera: could not start MPI: " << error.what() << "\n";
    return 1;
  }
  const bool rank0 = runtime->world_rank() == 0;
  tessera::log::configure(runtime->world_rank(), runtime->world_size());
  // The embedded model and the tiny test model live outside the library; the CLI offers them like its own.
  tessera::register_embedded_model();

  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    if (rank0) print_usage(argc < 2 ? std::cerr : std::cout);
    return argc < 2 ? 2 : 0;
  }
  const Subcommand* subcommand = find_subcommand(argv[1]);
  if (subcommand == nullptr) {
    if (rank0) {
      std::cerr << "tessera: unknown subcommand '" << argv[1] << "'\n\n";
      print_usage(std::cerr);
    }
    return 2;
  }
  try {
    return subcommand->run(argc - 1, argv + 1, *runtime);
  } catch (const tessera::cli::UsageError& error) {
    // Every rank sees the same command line, so every rank stops here; one message is enough.
    if (rank0) std::cerr << error.what() << "\n";
    return 2;
  } catch (const std::exception& error) {
    const std::string message = std::string("tessera ") + subcommand->name + " failed: " + message_of(error);
    // Peers may be waiting in a collective for this rank: take the whole job down rather than let them wait.
    if (runtime->world_size() > 1) tessera::abort_job(message, 1);
    tessera::log::fatal(message);
    return 1;
  }
}
