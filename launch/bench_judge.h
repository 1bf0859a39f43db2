#pragma once
// `tessera bench judge`: the embedded model's fixed prompt set, generated and judged (src/shapes/judge_run.h).
#include <cxxopts.hpp>

#include "launch/device_binding.h"

namespace tessera {
class MpiRuntime;

// The bench options this benchmark adds (model, parallel degrees, cache, seed, grid, min-rate).
void add_judge_bench_options(cxxopts::Options& options);
// Exit status 1 when --min-rate is given and the rate is below it.
int run_judge_bench(const cxxopts::ParseResult& parsed, MpiRuntime& runtime, const DeviceBinding& binding);

}  // namespace tessera
