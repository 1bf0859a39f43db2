#pragma once
// `tessera bench scaling`: the Wan transformer's strong scaling over strategies, world sizes and sequence lengths
// (measure/scaling_bench.h), on a named config with random weights or a model directory.
#include <cxxopts.hpp>

#include "launch/device_binding.h"

namespace tessera {
class MpiRuntime;

// The bench options this benchmark adds (strategies, weight sharding, sizes, sequences, layers, warm-up, text length,
// guidance mode, dtype); --model, --seed, --repeat and --json are shared with the other benchmarks.
void add_scaling_bench_options(cxxopts::Options& options);
// `command_line` goes into the JSON, so that a results file says how it was made.
int run_scaling_bench(const cxxopts::ParseResult& parsed, MpiRuntime& runtime, const DeviceBinding& binding,
                      const std::string& command_line);

}  // namespace tessera
