#include "parallel/context_parallel.h"

#include <ATen/ATen.h>

#include "common/check.h"
#include "hooks/hook_registry.h"
#include "hooks/model_hook.h"
#include "parallel/distributed_attention.h"
#include "parallel/sequence_layout.h"
#include "parallel/shard_sizes.h"

namespace tessera {
namespace {

constexpr const char* kPlanHook = "context_parallel.plan";
constexpr const char* kAttentionHook = "context_parallel.attention";

bool applies(const at::Tensor& tensor, int64_t expected_dims) { return tensor.defined() && tensor.dim() == expected_dims; }

// Splits the planned inputs before the forward and splits or gathers the planned outputs after it. Each split
// records every rank's shard lengths in the forward's layout, and each gather takes its lengths from there.
class PlanHook : public ModelHook {
 public:
  PlanHook(ContextParallelModulePlan plan, std::shared_ptr<DeviceMesh> mesh, std::shared_ptr<SequenceLayout> layout)
      : plan_(std::move(plan)), mesh_(std::move(mesh)), layout_(std::move(layout)) {}

  void pre_forward(Module& /*module*/, Args& args) override {
    for (const auto& [name, input] : plan_.split_inputs) {
      const at::Tensor* tensor = args.get_if<at::Tensor>(name);
      if (tensor != nullptr && applies(*tensor, input.expected_dims)) args.set(name, local_shard(*tensor, input.split_dim));
    }
  }

  void post_forward(Module& /*module*/, Outputs& outputs) override {
    for (const auto& [index, input] : plan_.split_outputs) {
      if (index < static_cast<int>(outputs.size()) && applies(outputs[index], input.expected_dims)) {
        outputs[index] = local_shard(outputs[index], input.split_dim);
      }
    }
    Communicator& group = mesh_->context_parallel();
    for (const auto& [index, output] : plan_.gather_outputs) {
      if (index < static_cast<int>(outputs.size()) && applies(outputs[index], output.expected_dims)) {
        const auto lengths = layout_->lengths(outputs[index].size(output.gather_dim), group.rank());
        outputs[index] = lengths ? group.all_gather(outputs[index], output.gather_dim, *lengths)
                                 : group.all_gather(outputs[index], output.gather_dim);
      }
    }
  }

 private:
  at::Tensor local_shard(const at::Tensor& tensor, int64_t dim) {
    const Communicator& group = mesh_->context_parallel();
    auto sizes = shard_sizes(tensor.size(dim), group.size());
    const int64_t offset = exclusive_prefix_sum(sizes)[group.rank()], length = sizes[group.rank()];
    layout_->add_split(std::move(sizes));
    return tensor.narrow(dim, offset, length).contiguous();
  }

  ContextParallelModulePlan plan_;
  std::shared_ptr<DeviceMesh> mesh_;
  std::shared_ptr<SequenceLayout> layout_;
};

// Every Ulysses or Ring group member's sequence length, from every context-parallel rank's (group position
// ring * ulysses + ulysses index). Ulysses exchanges within this rank's Ulysses group; Ring, inside USP, passes
// each Ulysses group's whole head-sharded sequence.
struct GroupLengths {
  std::vector<int64_t> ulysses;
  std::vector<int64_t> ring;
};

GroupLengths group_lengths(const std::vector<int64_t>& context_parallel_lengths, const DeviceMesh& mesh) {
  const ParallelConfig& config = mesh.config();
  GroupLengths lengths{.ulysses = std::vector<int64_t>(config.ulysses), .ring = std::vector<int64_t>(config.ring, 0)};
  for (int ring = 0; ring < config.ring; ++ring) {
    for (int ulysses = 0; ulysses < config.ulysses; ++ulysses) {
      const int64_t length = context_parallel_lengths[ring * config.ulysses + ulysses];
      lengths.ring[ring] += length;
      if (ring == mesh.coordinates().ring) lengths.ulysses[ulysses] = length;
    }
  }
  return lengths;
}

// Routes sequence-parallel attention to the mesh's strategy while the model's forward runs, with every rank's
// sequence lengths from the forward's layout when it settles them (else the strategies exchange them).
class AttentionHook : public ModelHook {
 public:
  AttentionHook(std::shared_ptr<DeviceMesh> mesh, std::shared_ptr<SequenceLayout> layout)
      : mesh_(std::move(mesh)), layout_(std::move(layout)) {
    implementation_ = [this](const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                             const AttentionOptions& options) { return distributed_attention(q, k, v, options); };
  }

  bool overrides_forward() const override { return true; }

  // Aliases the mesh: the group lives as long as the returned pointer, whatever happens to this hook.
  std::shared_ptr<Communicator> context_parallel_group() const {
    return std::shared_ptr<Communicator>(mesh_, &mesh_->context_parallel());
  }

  Outputs new_forward(Module& module, Args& args) override {
    const ForwardScope forward(*layout_);
    ScopedSequenceParallelAttention scope(&implementation_);
    return module.original_forward(args);
  }

 private:
  class ForwardScope {
   public:
    explicit ForwardScope(SequenceLayout& layout) : layout_(layout) { layout_.begin_forward(); }
    ~ForwardScope() { layout_.end_forward(); }
    ForwardScope(const ForwardScope&) = delete;
    ForwardScope& operator=(const ForwardScope&) = delete;

   private:
    SequenceLayout& layout_;
  };

  AttentionResult distributed_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                        const AttentionOptions& options) const {
    const DeviceMesh& mesh = *mesh_;
    const auto known = layout_->lengths(q.size(1), mesh.context_parallel().rank());
    const GroupLengths lengths = known ? group_lengths(*known, mesh) : GroupLengths{};
    if (mesh.config().ring == 1) return ulysses_attention(mesh.ulysses(), q, k, v, options, local_attention, lengths.ulysses);
    if (mesh.config().ulysses == 1) return ring_attention(mesh.ring(), q, k, v, options, lengths.ring);
    // USP: Ulysses inside each group, Ring across groups.
    return ulysses_attention(
        mesh.ulysses(), q, k, v, options,
        [&](const at::Tensor& hq, const at::Tensor& hk, const at::Tensor& hv, const AttentionOptions& inner_options) {
          return ring_attention(mesh.ring(), hq, hk, hv, inner_options, lengths.ring);
        },
        lengths.ulysses);
  }

  std::shared_ptr<DeviceMesh> mesh_;
  std::shared_ptr<SequenceLayout> layout_;
  AttentionImplementation implementation_;
};

}  // namespace

void enable_parallelism(Module& model, const ContextParallelPlan& plan, std::shared_ptr<DeviceMesh> mesh) {
  TESSERA_CHECK(mesh != nullptr, "enable_parallelism needs a device mesh");
  TESSERA_CHECK(!parallelism_enabled(model), "context parallelism is already enabled on ", model.name(),
                "; call disable_parallelism first");
  if (mesh->config().context_parallel_degree() == 1) return;  // nothing to split: the model is unchanged
  TESSERA_CHECK(!plan.empty(), model.name(), " declares no context-parallel plan, so it cannot run with "
                "--ulysses/--ring above 1");
  // Resolve every path first, so a bad plan changes nothing.
  std::vector<std::pair<Module*, const ContextParallelModulePlan*>> targets;
  for (const auto& [path, module_plan] : plan) {
    const auto matches = model.find_all(path);
    TESSERA_CHECK(!matches.empty(), "context-parallel plan entry '", path, "' matches no module of ", model.name());
    for (const auto& match : matches) targets.emplace_back(match.module, &module_plan);
  }
  // One layout per model: its hooks record and read the shard lengths of the forward that runs.
  auto layout = std::make_shared<SequenceLayout>();
  for (const auto& [module, module_plan] : targets) {
    HookRegistry::get_or_create(*module).register_hook(kPlanHook,
                                                       std::make_shared<PlanHook>(*module_plan, mesh, layout));
  }
  HookRegistry::get_or_create(model).register_hook(kAttentionHook, std::make_shared<AttentionHook>(mesh, layout));
}

void disable_parallelism(Module& model) {
  for (const auto& match : model.all_modules()) {
    if (HookRegistry* registry = match.module->hook_registry()) {
      registry->remove_hook(kPlanHook);
      registry->remove_hook(kAttentionHook);
    }
  }
}

bool parallelism_enabled(Module& model) {
  HookRegistry* registry = model.hook_registry();
  return registry != nullptr && registry->get_hook(kAttentionHook) != nullptr;
}

std::shared_ptr<Communicator> context_parallel_group(Module& model) {
  HookRegistry* registry = model.hook_registry();
  if (registry == nullptr) return nullptr;
  const auto hook = registry->get_hook_as<AttentionHook>(kAttentionHook);
  return hook != nullptr ? hook->context_parallel_group() : nullptr;
}

CommunicationStats context_parallel_stats(const DeviceMesh& mesh) {
  CommunicationStats total;
  for (const Communicator* group : {&mesh.context_parallel(), &mesh.ulysses(), &mesh.ring()}) {
    for (const auto& [operation, stats] : group->stats()) {
      total[operation].calls += stats.calls;
      total[operation].bytes_sent += stats.bytes_sent;
    }
  }
  return total;
}

void reset_context_parallel_stats(DeviceMesh& mesh) {
  mesh.context_parallel().reset_stats();
  mesh.ulysses().reset_stats();
  mesh.ring().reset_stats();
}

}  // namespace tessera
