#pragma once
// The degrees a run uses when the command line gives some or none: every rank of the launch works. Torch-free.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "parallel/parallel_config.h"

namespace tessera {

// What the command line said; nullopt: the flag was not given.
struct GivenDegrees {
  std::optional<int> ulysses = std::nullopt;
  std::optional<int> ring = std::nullopt;
  std::optional<int> cfg = std::nullopt;

  bool any() const { return ulysses || ring || cfg; }
  // The ranks the given degrees take, 1 for each one not given (what `tessera batch` leaves to --dp).
  int product() const { return ulysses.value_or(1) * ring.value_or(1) * cfg.value_or(1); }
};

struct CompletedDegrees {
  ParallelConfig config;
  // Which degrees were chosen and why, for the log ("no degrees given"); empty when every degree was given.
  std::string chosen;
};

// Degrees for `ranks` ranks that keep every degree given and fill the rest:
//  - CFG-parallel is never chosen: 1 unless given.
//  - Neither --ulysses nor --ring: Ulysses takes the largest divisor of the context-parallel ranks that also divides
//    the model's head count, Ring the rest. `heads` is called only then (it may read a model's config).
//  - One of them: the other is the ranks it leaves, when it divides them.
// Degrees that cannot fill `ranks` exactly throw tessera::Error naming the numbers and the flags that fix them.
CompletedDegrees complete_degrees(int ranks, const GivenDegrees& given, const std::function<int64_t()>& heads);

// A batch's degrees: --dp data-parallel groups of `group` degrees each.
struct DataParallelDegrees {
  int dp = 1;
  CompletedDegrees group;
  std::string chosen;  // as CompletedDegrees::chosen, for --dp too
};

// `tessera batch`'s degrees for `world` ranks. --dp given: each group takes world / dp ranks, completed as
// complete_degrees completes a launch. --dp left out: the groups are as many as the world holds of the degrees given
// (one for each left out), so with no degree at all every rank is a group of its own. Throws tessera::Error naming
// the fix when the degrees cannot fill the world exactly.
DataParallelDegrees complete_data_parallel(int world, std::optional<int> dp, const GivenDegrees& given,
                                           const std::function<int64_t()>& heads);

// The Ulysses degree chosen for `ranks` context-parallel ranks on a model of `heads` heads: the largest divisor of
// `ranks` that divides `heads` (1 when they share none).
int even_ulysses_degree(int ranks, int64_t heads);

}  // namespace tessera
