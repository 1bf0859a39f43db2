// What a module call costs with no hook registry, with an empty registry, and with three pass-through
// hooks. The body is a trivial pass-through so that the measurement is the calling machinery itself; the
// baseline is the same body called directly.
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>

#include "hooks/hook_registry.h"
#include "hooks/model_hook.h"
#include "hooks/module.h"

namespace {

using tessera::Args;
using tessera::Outputs;

Outputs pass_through(tessera::Args& args) { return {args.tensor("hidden_states")}; }

class PassThroughModule : public tessera::Module {
 protected:
  Outputs forward_impl(Args& args) override { return pass_through(args); }
};

class PassThroughHook : public tessera::ModelHook {
 public:
  void pre_forward(tessera::Module&, Args& args) override { benchmark::DoNotOptimize(args); }
  void post_forward(tessera::Module&, Outputs& outputs) override { benchmark::DoNotOptimize(outputs); }
};

const at::Tensor& input() {
  static const at::Tensor tensor = at::ones({8, 64});
  return tensor;
}

void run_module(benchmark::State& state, PassThroughModule& module) {
  for (auto _ : state) {
    Outputs outputs = module({{"hidden_states", input()}});
    benchmark::DoNotOptimize(outputs);
  }
}

void BM_DirectBodyCall(benchmark::State& state) {
  for (auto _ : state) {
    Args args{{"hidden_states", input()}};
    Outputs outputs = pass_through(args);
    benchmark::DoNotOptimize(outputs);
  }
}

void BM_ModuleNoRegistry(benchmark::State& state) {
  PassThroughModule module;
  run_module(state, module);
}

void BM_ModuleEmptyRegistry(benchmark::State& state) {
  PassThroughModule module;
  tessera::HookRegistry::get_or_create(module);
  run_module(state, module);
}

void BM_ModuleThreePassThroughHooks(benchmark::State& state) {
  PassThroughModule module;
  auto& registry = tessera::HookRegistry::get_or_create(module);
  for (const char* name : {"a", "b", "c"}) registry.register_hook(name, std::make_shared<PassThroughHook>());
  run_module(state, module);
}

}  // namespace

BENCHMARK(BM_DirectBodyCall);
BENCHMARK(BM_ModuleNoRegistry);
BENCHMARK(BM_ModuleEmptyRegistry);
BENCHMARK(BM_ModuleThreePassThroughHooks);
BENCHMARK_MAIN();
