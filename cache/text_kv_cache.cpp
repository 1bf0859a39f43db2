#include "cache/text_kv_cache.h"

#include <ATen/core/Tensor.h>

#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include "common/check.h"
#include "hooks/hook_registry.h"
#include "hooks/hookable_model.h"
#include "hooks/text_key_values.h"

namespace tessera {
namespace {

constexpr const char* kTextKVHookName = "text_kv_cache";
// Entries per attention. A generation needs one per prompt tensor and text shape: two with sequential CFG, three
// with FasterCache (its conditional-only forwards see half the [uncond, cond] batch). The bound keeps a caller that
// passes a new prompt tensor at every call (a benchmark's forwards) from holding ever more memory.
constexpr size_t kMaxEntries = 4;

// What the hooks of one model share: the prompt tensor of the forward in progress (undefined outside one) and
// the counts since the last reset.
struct TextKVSession {
  std::string input;
  at::Tensor prompt;
  int64_t hits = 0;
  int64_t misses = 0;
};

// The same view of the same memory. An entry holds its prompt tensor, so that memory is not handed out again
// while the entry lives and an equal view is the same tensor (diffusers keys by data_ptr alone).
bool same_view(const at::Tensor& a, const at::Tensor& b) {
  return a.data_ptr() == b.data_ptr() && a.sizes() == b.sizes() && a.strides() == b.strides() &&
         a.scalar_type() == b.scalar_type() && a.device() == b.device();
}

// On the model: notes the prompt tensor of each forward for the attention hooks below it.
class TextKVModelHook : public ModelHook {
 public:
  explicit TextKVModelHook(std::shared_ptr<TextKVSession> session) : session_(std::move(session)) {}

  void pre_forward(Module& /*module*/, Args& args) override {
    const at::Tensor* prompt = args.get_if<at::Tensor>(session_->input);
    session_->prompt = prompt != nullptr ? *prompt : at::Tensor();
  }
  void post_forward(Module& /*module*/, Outputs& /*outputs*/) override { session_->prompt = at::Tensor(); }
  void reset_state(Module& /*module*/) override {
    session_->hits = 0;
    session_->misses = 0;
  }

  const std::shared_ptr<TextKVSession>& session() const { return session_; }

 private:
  std::shared_ptr<TextKVSession> session_;
};

// On an attention: one entry per prompt tensor and text shape; hands the entry's keys and values to the forward.
class TextKVAttentionHook : public ModelHook {
 public:
  TextKVAttentionHook(std::shared_ptr<TextKVSession> session, const ProjectsTextKeyValues& projector)
      : session_(std::move(session)), projector_(projector), source_(projector.text_key_value_source()) {}

  void pre_forward(Module& /*module*/, Args& args) override {
    // Called outside the model's forward (a block run on its own): nothing says which prompt this is.
    if (!session_->prompt.defined()) return;
    const at::Tensor* source = args.get_if<at::Tensor>(source_);
    if (source == nullptr) return;
    const Entry* entry = find(*source);
    if (entry == nullptr) {
      ++session_->misses;
      if (entries_.size() == kMaxEntries) entries_.pop_front();
      entries_.push_back({session_->prompt, source->sizes().vec(), projector_.text_key_values(args)});
      entry = &entries_.back();
    } else {
      ++session_->hits;
    }
    for (const auto& [name, value] : entry->values) args.set(name, value);
  }
  void reset_state(Module& /*module*/) override { entries_.clear(); }

  int64_t entries() const { return static_cast<int64_t>(entries_.size()); }

 private:
  struct Entry {
    at::Tensor prompt;
    std::vector<int64_t> source_sizes;  // the text this attention sees: FasterCache halves the batch
    Args values;
  };

  const Entry* find(const at::Tensor& source) const {
    for (const Entry& entry : entries_) {
      if (same_view(entry.prompt, session_->prompt) && source.sizes() == c10::IntArrayRef(entry.source_sizes)) {
        return &entry;
      }
    }
    return nullptr;
  }

  std::shared_ptr<TextKVSession> session_;
  const ProjectsTextKeyValues& projector_;
  std::string source_;
  std::deque<Entry> entries_;
};

// The attentions whose text keys and values the cache reuses, with their projections.
std::vector<std::pair<Module*, const ProjectsTextKeyValues*>> text_key_value_modules(HookableModel& model) {
  std::vector<std::pair<Module*, const ProjectsTextKeyValues*>> found;
  for (const auto& [path, module] : model.all_modules()) {
    const auto* projector = dynamic_cast<const ProjectsTextKeyValues*>(module);
    if (projector != nullptr && !projector->text_key_value_source().empty()) found.emplace_back(module, projector);
  }
  return found;
}

std::shared_ptr<TextKVModelHook> model_hook(HookableModel& model) {
  HookRegistry* registry = model.hook_registry();
  return registry != nullptr ? registry->get_hook_as<TextKVModelHook>(kTextKVHookName) : nullptr;
}

}  // namespace

TextKVMode parse_text_kv_mode(const std::string& name) {
  if (name == "auto") return TextKVMode::automatic;
  if (name == "on") return TextKVMode::on;
  if (name == "off") return TextKVMode::off;
  TESSERA_CHECK(false, "unknown text K/V cache mode '", name, "'; use auto, on or off");
  return TextKVMode::automatic;
}

bool supports_text_kv_cache(HookableModel& model) {
  return dynamic_cast<const DeclaresTextKeyValues*>(&model) != nullptr && !text_key_value_modules(model).empty();
}

void enable_text_kv_cache(HookableModel& model) {
  const auto* declared = dynamic_cast<const DeclaresTextKeyValues*>(&model);
  TESSERA_CHECK(declared != nullptr, model.class_name(), " has no text keys and values that stay the same from step ",
                "to step (it does not derive from DeclaresTextKeyValues: its attention projects a text stream that ",
                "its blocks update and the timestep modulates), so reusing them would change the output; use "
                "--text-kv-cache off or auto");
  const auto modules = text_key_value_modules(model);
  TESSERA_CHECK(!modules.empty(), model.class_name(), " has no attention that projects text keys and values ",
                "(ProjectsTextKeyValues with a source); use --text-kv-cache off or auto");
  TESSERA_CHECK(!text_kv_cache_enabled(model), "the text K/V cache is already enabled on ", model.class_name());
  auto session = std::make_shared<TextKVSession>();
  session->input = declared->text_key_value_input();
  HookRegistry::get_or_create(model).register_hook(kTextKVHookName, std::make_shared<TextKVModelHook>(session));
  for (const auto& [module, projector] : modules) {
    HookRegistry::get_or_create(*module).register_hook(kTextKVHookName,
                                                       std::make_shared<TextKVAttentionHook>(session, *projector));
  }
}

void disable_text_kv_cache(HookableModel& model) {
  for (const auto& [path, module] : model.all_modules()) {
    if (HookRegistry* registry = module->hook_registry()) registry->remove_hook(kTextKVHookName);
  }
}

bool text_kv_cache_enabled(HookableModel& model) { return model_hook(model) != nullptr; }

void reset_text_kv_cache(HookableModel& model) {
  for (const auto& [path, module] : model.all_modules()) {
    HookRegistry* registry = module->hook_registry();
    if (registry != nullptr && registry->get_hook(kTextKVHookName) != nullptr) registry->reset_hook(kTextKVHookName);
  }
}

bool use_text_kv_cache(HookableModel& model, TextKVMode mode) {
  const bool wanted = mode == TextKVMode::on || (mode == TextKVMode::automatic && supports_text_kv_cache(model));
  const bool enabled = text_kv_cache_enabled(model);
  if (wanted && !enabled) enable_text_kv_cache(model);
  if (!wanted && enabled) disable_text_kv_cache(model);
  return wanted;
}

TextKVCacheStats text_kv_cache_stats(HookableModel& model) {
  const auto hook = model_hook(model);
  TESSERA_CHECK(hook != nullptr, "the text K/V cache is not enabled on ", model.class_name());
  TextKVCacheStats stats{.hits = hook->session()->hits, .misses = hook->session()->misses, .entries = 0};
  for (const auto& [path, module] : model.all_modules()) {
    if (HookRegistry* registry = module->hook_registry()) {
      if (auto attention = registry->get_hook_as<TextKVAttentionHook>(kTextKVHookName)) {
        stats.entries += attention->entries();
      }
    }
  }
  return stats;
}

}  // namespace tessera
