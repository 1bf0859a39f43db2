#pragma once
// Small modules and hooks the hook tests share. Each hook writes what it did into a shared log, so a test
// can assert the exact order of pre_forward, forward and post_forward calls.
#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

#include "hooks/model_hook.h"
#include "hooks/module.h"

namespace tessera::testing {

using CallLog = std::vector<std::string>;

// Output 0 = x * 2 + offset, where x is the "x" argument and offset the optional "offset" (default 0).
// Logs "forward" each time its own forward runs.
class DoublingModule : public Module {
 public:
  explicit DoublingModule(CallLog* log = nullptr) : log_(log) {}
  int forward_calls = 0;

 protected:
  Outputs forward_impl(Args& args) override {
    ++forward_calls;
    if (log_ != nullptr) log_->push_back("forward");
    const double* offset = args.get_if<double>("offset");
    return {args.tensor("x") * 2 + (offset != nullptr ? *offset : 0.0)};
  }

 private:
  CallLog* log_;
};

// Logs "pre:<label>" and "post:<label>" and otherwise passes everything through.
class LoggingHook : public ModelHook {
 public:
  LoggingHook(std::string label, CallLog* log) : label_(std::move(label)), log_(log) {}
  void pre_forward(Module&, Args&) override { log_->push_back("pre:" + label_); }
  void post_forward(Module&, Outputs&) override { log_->push_back("post:" + label_); }

 protected:
  std::string label_;
  CallLog* log_;
};

// A LoggingHook that also replaces the forward; it runs the original forward only when told to.
class ReplacingHook : public LoggingHook {
 public:
  ReplacingHook(std::string label, CallLog* log, bool call_original)
      : LoggingHook(std::move(label), log), call_original_(call_original) {}
  bool overrides_forward() const override { return true; }
  Outputs new_forward(Module& module, Args& args) override {
    log_->push_back("new_forward:" + label_);
    if (call_original_) {
      Outputs outputs = module.original_forward(args);
      outputs.push_back(at::ones({1}));  // marks that this hook ran
      return outputs;
    }
    return {at::full({1}, -1.0)};
  }

 private:
  bool call_original_;
};

// Counts calls and can forget them: the simplest stateful hook.
class CountingHook : public ModelHook {
 public:
  int initialized = 0;
  int calls = 0;
  int resets = 0;
  void initialize_hook(Module&) override { ++initialized; }
  void pre_forward(Module&, Args&) override { ++calls; }
  void reset_state(Module&) override {
    calls = 0;
    ++resets;
  }
};

// Sum of a tensor as a double, for short assertions.
inline double sum_of(const at::Tensor& tensor) { return tensor.sum().item<double>(); }

}  // namespace tessera::testing
