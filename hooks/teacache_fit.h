#pragma once
// TeaCache's indicators and the fits a model carries for them (cache_inputs.h hands them over). Torch-free: cache
// configs and their parser include it, also where no torch is built (the fuzzers).
#include <string>
#include <vector>

namespace tessera {

// What TeaCache measures the change of, at the first block of the stack.
enum class TeaCacheIndicator {
  // The first block's `temb` argument (the projected timestep embedding). It depends on the timestep only, so
  // the skip pattern is fixed per schedule.
  timestep_embedding,
  // norm1(x) * (1 + scale) + shift, the first self-attention's input: the paper's indicator. Computed by the
  // model (DeclaresCacheInputs::modulated_input); a model that declares none is indicated by the block's input.
  modulated_input,
};

// The name of the fit a model carries as its own for an indicator, the one a TeaCache config asks for unless
// told otherwise.
inline constexpr const char* kModelTeaCacheFit = "default";

// A fitted rescaling polynomial (numpy.poly1d order, highest power first), valid for one indicator.
struct TeaCacheFit {
  std::string name;
  TeaCacheIndicator indicator = TeaCacheIndicator::timestep_embedding;
  std::vector<double> coefficients;
};

}  // namespace tessera
