#pragma once
// The name of the MagCache ratios a model carries as its own (cache_inputs.h hands them over), the ones a
// MagCache config asks for unless told otherwise. Torch-free: cache configs and their parser include it.
namespace tessera {

inline constexpr const char* kModelMagCacheRatios = "default";

}  // namespace tessera
