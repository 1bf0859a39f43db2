#include "cache/forward_agreement.h"

#include <ATen/ATen.h>

#include <utility>

#include "cache/cache_states.h"
#include "hooks/args.h"
#include "parallel/communicator.h"

namespace tessera {

std::vector<int64_t> input_signature(const Args& args) {
  std::vector<int64_t> signature;
  for (const auto& entry : args) {
    const at::Tensor* tensor = entry.second.get_if<at::Tensor>();
    if (tensor == nullptr || !tensor->defined()) continue;
    signature.push_back(tensor->dim());
    for (const int64_t size : tensor->sizes()) signature.push_back(size);
  }
  return signature;
}

ForwardAgreement agree_for_forward(Communicator* group, double timestep, bool inputs_changed_here, bool reuse_here) {
  if (group == nullptr || group->size() <= 1) return {.calls_agree = true, .reuse = reuse_here};
  // A max over {changed, must compute, t, -t}: flags are 0/1, and max(t) == -max(-t) exactly when every rank
  // holds the same t (a max never rounds).
  const at::Tensor flags = at::tensor({inputs_changed_here ? 1.0 : 0.0, reuse_here ? 0.0 : 1.0, timestep, -timestep},
                                      at::kDouble);
  const at::Tensor reduced = group->all_reduce(flags, ReduceOp::max).cpu();
  const auto* values = reduced.const_data_ptr<double>();
  return {.calls_agree = values[0] == 0.0 && values[2] == -values[3], .reuse = values[1] == 0.0};
}

ForwardAgreement agree_at_model_entry(AttentionReuseState& state, const Args& args, Communicator* group,
                                      double timestep, bool reuse_here) {
  std::vector<int64_t> signature = input_signature(args);
  const bool changed = signature != state.input_signature;
  state.input_signature = std::move(signature);
  const ForwardAgreement agreement = agree_for_forward(group, timestep, changed, reuse_here);
  state.calls_agree = agreement.calls_agree;
  return agreement;
}

}  // namespace tessera
