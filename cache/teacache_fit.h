#pragma once
// TeaCache's coefficients by name: the fits a model carries (hooks/cache_inputs.h) resolved for a config.
#include "cache/cache_config.h"

namespace tessera {

class HookableModel;

// `config` with its coefficients as a list: a fit the config names is the model's fit of that name for the
// config's indicator. A model without its own fit (kModelTeaCacheFit) for the indicator gets none (no
// rescaling); any other name the model lacks is refused, listing the fits it carries.
TeaCacheConfig with_model_fit(const HookableModel& model, TeaCacheConfig config);

}  // namespace tessera
