// Pyramid Attention Broadcast: attention outputs change slowly in the middle of denoising, so within a
// timestep range each attention computes only every N-th call and broadcasts (reuses) its last output in
// between; the range and N differ per attention type (the "pyramid": cross attention can be skipped most).
// Decisions depend on the timestep, the call counter and the shard's shape, and are taken collectively (a
// rank may see another timestep or shape); the cached outputs are rank-local shards.
#include <ATen/ATen.h>

#include "cache/cache_hook.h"
#include "cache/forward_agreement.h"

namespace tessera {
namespace {

struct KindSettings {
  int64_t skip_range;
  std::pair<int64_t, int64_t> timestep_range;
  const std::vector<std::string>* identifiers;
  ModuleRole role;  // what a block's child must be to be this kind of attention
};

KindSettings settings(const PyramidAttentionBroadcastConfig& config, AttentionKind kind) {
  switch (kind) {
    case AttentionKind::spatial:
      return {config.spatial_attention_block_skip_range, config.spatial_attention_timestep_skip_range,
              &config.spatial_attention_block_identifiers, ModuleRole::self_attention};
    case AttentionKind::temporal:
      return {config.temporal_attention_block_skip_range, config.temporal_attention_timestep_skip_range,
              &config.temporal_attention_block_identifiers, ModuleRole::self_attention};
    case AttentionKind::cross:
      break;
  }
  return {config.cross_attention_block_skip_range, config.cross_attention_timestep_skip_range,
          &config.cross_attention_block_identifiers, ModuleRole::cross_attention};
}

class PyramidAttentionBroadcastHook : public CacheHook {
 public:
  PyramidAttentionBroadcastHook(std::shared_ptr<CacheSession> session, int64_t index, AttentionKind kind)
      : CacheHook(std::move(session), index), kind_(kind) {}

  Outputs new_forward(Module& module, Args& args) override {
    const auto& config = std::get<PyramidAttentionBroadcastConfig>(session_->config());
    const KindSettings mine = settings(config, kind_);
    const double timestep = session_->current_timestep(config.current_timestep_callback,
                                                       "pyramid_attention_broadcast");
    auto& state = session_->state<PyramidAttentionBroadcastState>();
    if (is_first()) ++state.step;  // hook 0 is the first attention called in a forward (model order)
    int64_t& calls = state.attention_calls[block_];
    std::vector<at::Tensor>& cached = state.attention_outputs[block_];
    const bool in_range = mine.timestep_range.first < timestep && timestep < mine.timestep_range.second;
    // Shard shapes can change on some ranks only: a cached output of another shape cannot be broadcast.
    const bool broadcast_here = !cached.empty() && in_range && calls % mine.skip_range != 0 &&
                                cached[0].size(0) == args.tensor("hidden_states").size(0) &&
                                outputs_fit_call(cached, args);
    const bool broadcast = state.calls_agree ? broadcast_here : session_->reuse_on_every_rank(broadcast_here);
    ++calls;
    if (broadcast) {
      session_->record(block_, BlockAction::skipped, timestep);
      return cached;
    }
    Outputs outputs = module.original_forward(args);
    session_->record(block_, BlockAction::computed, timestep);
    cached = outputs;
    return outputs;
  }

 private:
  AttentionKind kind_;
};

// On the model itself: once per forward, whether this forward's attention calls may decide locally
// (forward_agreement.h). A pre-hook, so that it composes with the context-parallel hook on the same module.
class PyramidAttentionBroadcastModelHook : public CacheHook {
 public:
  using CacheHook::CacheHook;

  bool overrides_forward() const override { return false; }

  void pre_forward(Module& /*module*/, Args& args) override {
    const auto& config = std::get<PyramidAttentionBroadcastConfig>(session_->config());
    const double timestep = session_->current_timestep(config.current_timestep_callback,
                                                       "pyramid_attention_broadcast");
    agree_at_model_entry(session_->state<PyramidAttentionBroadcastState>(), args, session_->cp_group().get(), timestep,
                         true);
  }
};

}  // namespace

std::vector<AttentionTarget> pyramid_attention_broadcast_targets(Module& model,
                                                                 const PyramidAttentionBroadcastConfig& config) {
  std::vector<AttentionTarget> targets;
  for (const auto& [path, module] : model.all_modules()) {
    // Types in diffusers' precedence: a module is hooked once, as the first type that selects it.
    for (const AttentionKind kind : {AttentionKind::spatial, AttentionKind::temporal, AttentionKind::cross}) {
      const KindSettings kind_settings = settings(config, kind);
      if (kind_settings.skip_range <= 0) continue;
      // A child of a block of the identified list, by role (Module::role), not by name.
      bool selected = false;
      for (const std::string& identifier : *kind_settings.identifiers) {
        selected = selected || (module->role() == kind_settings.role && path_matches(identifier + ".*.*", path));
      }
      if (selected) {
        targets.push_back({path, module, kind});
        break;
      }
    }
  }
  return targets;
}

std::shared_ptr<CacheHook> make_pyramid_attention_broadcast_hook(std::shared_ptr<CacheSession> session,
                                                                 int64_t index, AttentionKind kind) {
  return std::make_shared<PyramidAttentionBroadcastHook>(std::move(session), index, kind);
}

std::shared_ptr<CacheHook> make_pyramid_attention_broadcast_model_hook(std::shared_ptr<CacheSession> session) {
  // Its block index is past the attention modules': it records nothing.
  const int64_t index = session->num_blocks();
  return std::make_shared<PyramidAttentionBroadcastModelHook>(std::move(session), index);
}

}  // namespace tessera
