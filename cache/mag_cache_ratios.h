#pragma once
// MagCache's ratios: resolved for a model (a name it carries, a calibration file, or numbers), and interpolated
// to a step count as diffusers' MagCacheConfig does.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cache/cache_config.h"

namespace tessera {

class HookableModel;

// `config` with its ratios as numbers: a name is the model's ratios of that name (DeclaresCacheInputs::
// magcache_ratios), a name with '/' or ending in .json a file written by `tessera calibrate-magcache` (its
// "ratios"). Refuses a name the model lacks (listing those it carries) and a file that holds no ratios. A
// calibrating config needs none and is returned as it is.
MagCacheConfig with_model_ratios(const HookableModel& model, MagCacheConfig config);

// Nearest-index interpolation of `ratios` to `steps` entries, in float32 as diffusers' nearest_interp (its
// index is round-half-to-even of i * (n - 1) / (steps - 1) in float32); one step takes the last ratio.
std::vector<float> magcache_ratios_for_steps(const std::vector<double>& ratios, int64_t steps);

// The calibration file: {"steps": N, "ratios": [the "cond" context's, else the first's], "contexts": {name:
// ratios, ...}}.
std::string magcache_calibration_json(const std::vector<std::pair<std::string, std::vector<double>>>& contexts);

}  // namespace tessera
