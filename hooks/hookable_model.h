#pragma once
// A whole model as the layers above hooks (cache/, parallel/) see it: a hookable module tree plus the few
// facts those layers ask of it, so they never need a model class from src/. src/models' Model derives from it.
#include <string>

#include "hooks/module.h"

namespace tessera {

class HookableModel : public Module {
 public:
  // The class name errors name ("WanTransformer3DModel").
  virtual std::string class_name() const = 0;
  // Whether step caches may hook its blocks: declared by the class (a model whose blocks are not a residual
  // stream says no).
  virtual bool supports_cache() const = 0;
};

}  // namespace tessera
