#include "cache/teacache_fit.h"

#include "common/check.h"
#include "hooks/cache_inputs.h"
#include "hooks/hookable_model.h"

namespace tessera {
namespace {

const char* indicator_name(TeaCacheIndicator indicator) {
  return indicator == TeaCacheIndicator::timestep_embedding ? "timestep_embedding" : "modulated_input";
}

}  // namespace

TeaCacheConfig with_model_fit(const HookableModel& model, TeaCacheConfig config) {
  const auto* name = std::get_if<std::string>(&config.coefficients);
  if (name == nullptr) return config;
  const auto* declaring = dynamic_cast<const DeclaresCacheInputs*>(&model);
  const std::vector<TeaCacheFit> fits = declaring != nullptr ? declaring->teacache_fits() : std::vector<TeaCacheFit>{};
  std::string carried;
  for (const TeaCacheFit& fit : fits) {
    if (fit.name == *name && fit.indicator == config.indicator) {
      config.coefficients = fit.coefficients;
      return config;
    }
    carried += (carried.empty() ? "" : ", ") + fit.name + " (" + indicator_name(fit.indicator) + ")";
  }
  // The model's own fit may be absent (nothing fitted for this indicator): the change is then not rescaled.
  TESSERA_CHECK(*name == kModelTeaCacheFit, model.class_name(), " carries no TeaCache fit \"", *name, "\" for the ",
                indicator_name(config.indicator), " indicator (it carries: ", carried.empty() ? "none" : carried,
                "); give coefficients as numbers or none");
  config.coefficients = std::vector<double>{};
  return config;
}

}  // namespace tessera
