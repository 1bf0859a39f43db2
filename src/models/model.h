#pragma once
// The base of every top-level model (the transformer a pipeline denoises with). Its capabilities are
// declared once, by the class, in capabilities(); metadata() adds what only an instance knows.
#include <string>
#include <utility>
#include <vector>

#include "hooks/hookable_model.h"
#include "parallel/context_parallel_plan.h"
#include "src/models/model_metadata.h"

namespace tessera {

// class_name() (HookableModel) is the diffusers class name, as config.json's "_class_name" spells it.
class Model : public HookableModel {
 public:
  // The class's declared capabilities; an implementation returns the same table for every instance.
  virtual ModelCapabilities capabilities() const = 0;
  bool supports_cache() const final { return capabilities().supports_cache; }
  // The configuration the instance was built from, key -> value as text.
  virtual std::vector<std::pair<std::string, std::string>> config_entries() const { return {}; }

  // Where context parallelism splits and gathers the sequence (diffusers' _cp_plan); empty: not supported.
  virtual ContextParallelPlan context_parallel_plan() const { return {}; }

  // The dtype the floating-point parameter or buffer `name` is kept in when the model runs in `dtype`: a model
  // may keep numerically sensitive parts in fp32 (diffusers' _keep_in_fp32_modules). Loading reads each tensor
  // straight into this dtype; set_dtype casts by it.
  virtual c10::ScalarType parameter_dtype(const std::string& name, c10::ScalarType dtype) const;
  void set_dtype(c10::ScalarType dtype);

  ModelMetadata metadata() const;
  std::string describe(bool verbose = false) const { return metadata().describe(verbose); }
};

}  // namespace tessera
