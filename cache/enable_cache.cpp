#include "cache/enable_cache.h"

#include <cmath>
#include <cstdio>
#include <sstream>
#include <utility>

#include "cache/cache_hook.h"
#include "cache/mag_cache_ratios.h"
#include "cache/teacache_fit.h"
#include "common/check.h"
#include "common/join.h"
#include "hooks/block_stack.h"
#include "hooks/cache_inputs.h"
#include "hooks/hook_registry.h"
#include "hooks/hookable_model.h"
#include "parallel/context_parallel.h"

namespace tessera {
namespace {

const std::string& blocks_pattern(const CacheConfig& config) {
  static const std::string none;
  if (const auto* fbc = std::get_if<FirstBlockCacheConfig>(&config)) return fbc->blocks;
  if (const auto* tea = std::get_if<TeaCacheConfig>(&config)) return tea->blocks;
  if (const auto* taylor = std::get_if<TaylorSeerConfig>(&config)) return taylor->blocks;
  if (const auto* mag = std::get_if<MagCacheConfig>(&config)) return mag->blocks;
  if (const auto* sea = std::get_if<SeaCacheConfig>(&config)) return sea->blocks;
  if (const auto* db = std::get_if<DBCacheConfig>(&config)) return db->blocks;
  return none;
}

void check_range(const char* method, const std::string& field, const std::pair<int64_t, int64_t>& range) {
  TESSERA_CHECK(range.first < range.second, method, " ", field, " needs lo < hi, got (", range.first, ", ",
                range.second, ")");
}

void validate_faster_cache(const FasterCacheConfig& faster) {
  TESSERA_CHECK(faster.spatial_attention_block_skip_range >= 0 && faster.temporal_attention_block_skip_range >= 0,
                "faster_cache block skip ranges must be >= 0 (0: not hooked), got spatial ",
                faster.spatial_attention_block_skip_range, ", temporal ", faster.temporal_attention_block_skip_range);
  TESSERA_CHECK(faster.unconditional_batch_skip_range >= 1,
                "faster_cache unconditional_batch_skip_range must be >= 1, got ", faster.unconditional_batch_skip_range);
  const std::pair<const char*, const std::pair<int64_t, int64_t>*> ranges[] = {
      {"spatial_attention_timestep_skip_range", &faster.spatial_attention_timestep_skip_range},
      {"temporal_attention_timestep_skip_range", &faster.temporal_attention_timestep_skip_range},
      {"low_frequency_weight_update_timestep_range", &faster.low_frequency_weight_update_timestep_range},
      {"high_frequency_weight_update_timestep_range", &faster.high_frequency_weight_update_timestep_range},
      {"unconditional_batch_timestep_skip_range", &faster.unconditional_batch_timestep_skip_range}};
  for (const auto& [field, range] : ranges) check_range("faster_cache", field, *range);
  TESSERA_CHECK(faster.tensor_format == "BCFHW" || faster.tensor_format == "BFCHW" || faster.tensor_format == "BCHW",
                "faster_cache tensor_format must be one of BCFHW, BFCHW, BCHW, got \"", faster.tensor_format, "\"");
}

void validate_db_cache(const DBCacheConfig& db) {
  TESSERA_CHECK(db.fn_compute_blocks >= 1, "dbcache fn (Fn_compute_blocks) must be >= 1, got ", db.fn_compute_blocks);
  TESSERA_CHECK(db.bn_compute_blocks >= 0, "dbcache bn (Bn_compute_blocks) must be >= 0, got ", db.bn_compute_blocks);
  TESSERA_CHECK(db.max_warmup_steps >= 0, "dbcache warmup must be >= 0, got ", db.max_warmup_steps);
  TESSERA_CHECK(db.warmup_interval >= 1, "dbcache warmup_interval must be >= 1, got ", db.warmup_interval);
  TESSERA_CHECK(db.max_cached_steps >= -1 && db.max_continuous_cached_steps >= -1,
                "dbcache max_cached and max_continuous must be >= 0, or -1 for no limit, got ", db.max_cached_steps,
                " and ", db.max_continuous_cached_steps);
  TESSERA_CHECK(db.taylorseer_order >= 0, "dbcache taylorseer_order must be >= 0 (0: no TaylorSeer), got ",
                db.taylorseer_order);
}

void validate_mag_or_sea_cache(const CacheConfig& config) {
  if (const auto* mag = std::get_if<MagCacheConfig>(&config)) {
    TESSERA_CHECK(mag->threshold >= 0, "magcache threshold must be >= 0, got ", mag->threshold);
    TESSERA_CHECK(mag->max_skip_steps >= 0, "magcache max_skip_steps must be >= 0, got ", mag->max_skip_steps);
    TESSERA_CHECK(mag->retention_ratio >= 0 && mag->retention_ratio <= 1,
                  "magcache retention_ratio must be in [0, 1], got ", mag->retention_ratio);
    TESSERA_CHECK(mag->num_inference_steps >= 0, "magcache steps must be >= 0 (0: the generation's), got ",
                  mag->num_inference_steps);
    return;
  }
  const auto& sea = std::get<SeaCacheConfig>(config);
  TESSERA_CHECK(std::isfinite(sea.threshold) && sea.threshold >= 0, "seacache threshold must be >= 0, got ",
                sea.threshold);
  TESSERA_CHECK(sea.residual_order == 0 || sea.residual_order == 1, "seacache residual_order must be 0 or 1, got ",
                sea.residual_order);
  TESSERA_CHECK(sea.retention_steps >= 0 && sea.cache_end_steps >= 0 && sea.max_consecutive_cached >= 0,
                "seacache retention_steps, cache_end_steps and max_consecutive_cached must be >= 0");
  TESSERA_CHECK(std::isfinite(sea.power_exp) && sea.power_exp > 0, "seacache power_exp must be > 0, got ",
                sea.power_exp);
}

void validate(const CacheConfig& config) {
  if (const auto* fbc = std::get_if<FirstBlockCacheConfig>(&config)) {
    TESSERA_CHECK(fbc->threshold >= 0, "first_block_cache threshold must be >= 0, got ", fbc->threshold);
  } else if (const auto* tea = std::get_if<TeaCacheConfig>(&config)) {
    TESSERA_CHECK(tea->threshold >= 0, "teacache threshold must be >= 0, got ", tea->threshold);
    TESSERA_CHECK(tea->warmup_steps >= 0, "teacache warmup_steps must be >= 0, got ", tea->warmup_steps);
  } else if (const auto* taylor = std::get_if<TaylorSeerConfig>(&config)) {
    TESSERA_CHECK(taylor->order >= 0, "taylorseer order must be >= 0, got ", taylor->order);
    TESSERA_CHECK(taylor->interval >= 1, "taylorseer interval must be >= 1, got ", taylor->interval);
    TESSERA_CHECK(taylor->warmup_steps >= 0, "taylorseer warmup_steps must be >= 0, got ", taylor->warmup_steps);
  } else if (const auto* db = std::get_if<DBCacheConfig>(&config)) {
    validate_db_cache(*db);
  } else if (const auto* pab = std::get_if<PyramidAttentionBroadcastConfig>(&config)) {
    const std::pair<const char*, const std::pair<int64_t, int64_t>*> ranges[] = {
        {"spatial", &pab->spatial_attention_timestep_skip_range},
        {"temporal", &pab->temporal_attention_timestep_skip_range},
        {"cross", &pab->cross_attention_timestep_skip_range}};
    const int64_t skips[] = {pab->spatial_attention_block_skip_range, pab->temporal_attention_block_skip_range,
                             pab->cross_attention_block_skip_range};
    for (int i = 0; i < 3; ++i) {
      TESSERA_CHECK(skips[i] >= 0, "pyramid_attention_broadcast ", ranges[i].first,
                    "_attention_block_skip_range must be >= 0 (0: not hooked), got ", skips[i]);
      check_range("pyramid_attention_broadcast", std::string(ranges[i].first) + "_attention_timestep_skip_range",
                  *ranges[i].second);
    }
    // diffusers falls back to spatial 2 with a warning; an explicit error says what to set instead.
    TESSERA_CHECK(skips[0] > 0 || skips[1] > 0 || skips[2] > 0,
                  "pyramid_attention_broadcast needs at least one of spatial_attention_block_skip_range, "
                  "temporal_attention_block_skip_range, cross_attention_block_skip_range > 0");
  } else if (const auto* faster = std::get_if<FasterCacheConfig>(&config)) {
    validate_faster_cache(*faster);
  } else {
    validate_mag_or_sea_cache(config);
  }
}

std::shared_ptr<CacheHook> find_hook(HookableModel& model) {
  for (const auto& [path, module] : model.all_modules()) {
    if (HookRegistry* registry = module->hook_registry()) {
      if (auto hook = registry->get_hook_as<CacheHook>(kCacheHookName)) return hook;
    }
  }
  return nullptr;
}

// Only the hooks decide, and the model owns them: while one runs, the model is there to be asked.
GroupSource group_of(HookableModel& model) {
  return [&model] { return context_parallel_group(model); };
}

std::vector<std::string> target_paths(const std::vector<AttentionTarget>& targets) {
  std::vector<std::string> paths;
  for (const auto& target : targets) paths.push_back(target.path);
  return paths;
}

// PAB hooks the attention modules its identifiers select, not a block stack, and the model (once per forward).
void enable_pyramid_attention_broadcast(HookableModel& model, const PyramidAttentionBroadcastConfig& pab,
                                        const CacheConfig& config) {
  const auto targets = pyramid_attention_broadcast_targets(model, pab);
  std::vector<std::string> all_identifiers;
  for (const auto* list : {&pab.spatial_attention_block_identifiers, &pab.temporal_attention_block_identifiers,
                           &pab.cross_attention_block_identifiers}) {
    all_identifiers.insert(all_identifiers.end(), list->begin(), list->end());
  }
  const std::string identifiers = join(all_identifiers);
  TESSERA_CHECK(!targets.empty(), "pyramid_attention_broadcast selects no attention module of ", model.class_name(),
                " (block identifiers ", identifiers, "; spatial/temporal attention is <identifier>.*.attn1, cross ",
                "attention <identifier>.*.attn2, for the types whose block_skip_range is > 0)");
  auto session = std::make_shared<CacheSession>(config, target_paths(targets), group_of(model));
  for (size_t i = 0; i < targets.size(); ++i) {
    HookRegistry::get_or_create(*targets[i].module)
        .register_hook(kCacheHookName,
                       make_pyramid_attention_broadcast_hook(session, static_cast<int64_t>(i), targets[i].kind));
  }
  HookRegistry::get_or_create(model).register_hook(kCacheHookName, make_pyramid_attention_broadcast_model_hook(session));
}

// FasterCache hooks the selected self-attention modules and the model (for the CFG branch).
void enable_faster_cache(HookableModel& model, const FasterCacheConfig& faster, const CacheConfig& config) {
  const auto targets = faster_cache_targets(model, faster);
  TESSERA_CHECK(!targets.empty() || !faster.is_guidance_distilled, "faster_cache selects no self-attention module of ",
                model.class_name(), " and is_guidance_distilled leaves no CFG branch to reuse: nothing to cache; ",
                "check spatial/temporal_attention_block_identifiers and their block skip ranges");
  const auto model_block = static_cast<int64_t>(targets.size());
  std::vector<std::string> names = target_paths(targets);
  names.emplace_back("unconditional branch");  // push_back's temporary trips GCC 12's -Warray-bounds (a false one)
  auto session = std::make_shared<CacheSession>(config, std::move(names), group_of(model));
  for (int64_t i = 0; i < model_block; ++i) {
    HookRegistry::get_or_create(*targets[i].module)
        .register_hook(kCacheHookName, make_faster_cache_attention_hook(session, i, targets[i]));
  }
  HookRegistry::get_or_create(model).register_hook(kCacheHookName, make_faster_cache_denoiser_hook(session, model_block));
}

}  // namespace

void enable_cache(HookableModel& model, const CacheConfig& config) {
  TESSERA_CHECK(model.supports_cache(), model.class_name(),
                " does not support caches (its capabilities declare supports_cache = false)");
  validate(config);
  TESSERA_CHECK(find_hook(model) == nullptr, "a cache is already enabled on ", model.class_name(),
                "; call disable_cache first");
  if (const auto* pab = std::get_if<PyramidAttentionBroadcastConfig>(&config)) {
    enable_pyramid_attention_broadcast(model, *pab, config);
    return;
  }
  if (const auto* faster = std::get_if<FasterCacheConfig>(&config)) {
    enable_faster_cache(model, *faster, config);
    return;
  }
  const std::string& pattern = blocks_pattern(config);
  const auto blocks = block_stack_of(model, pattern);
  TESSERA_CHECK(!blocks.empty(), "cache block pattern \"", pattern.empty() ? "(the model's block stack)" : pattern,
                "\" matches no module of ", model.class_name(),
                pattern.empty() && dynamic_cast<const DeclaresBlockStack*>(&model) == nullptr
                    ? " (it declares no block stack: give the blocks, or derive it from DeclaresBlockStack)"
                    : "");

  const auto* tea = std::get_if<TeaCacheConfig>(&config);
  const auto* mag = std::get_if<MagCacheConfig>(&config);
  const CacheConfig resolved = tea != nullptr   ? CacheConfig{with_model_fit(model, *tea)}
                               : mag != nullptr ? CacheConfig{with_model_ratios(model, *mag)}
                                                : config;
  const auto* inputs = dynamic_cast<const DeclaresCacheInputs*>(&model);
  TESSERA_CHECK(!std::holds_alternative<SeaCacheConfig>(config) || inputs != nullptr, "seacache reads the model's ",
                "raw latents, and ", model.class_name(), " declares none (DeclaresCacheInputs::raw_vision)");
  std::vector<std::string> names;
  for (const auto& block : blocks) names.push_back(block.path);
  auto session = std::make_shared<CacheSession>(resolved, std::move(names), group_of(model));
  for (size_t i = 0; i < blocks.size(); ++i) {
    const auto index = static_cast<int64_t>(i);
    std::shared_ptr<CacheHook> hook;
    // By type, not by index: the variant's order may grow.
    if (std::holds_alternative<FirstBlockCacheConfig>(config)) {
      hook = make_first_block_cache_hook(session, index, blocks[i].streams);
    } else if (std::holds_alternative<TeaCacheConfig>(config)) {
      hook = make_teacache_hook(session, index, blocks[i].streams, inputs);
    } else if (std::holds_alternative<TaylorSeerConfig>(config)) {
      hook = make_taylorseer_hook(session, index, blocks[i].streams);
    } else if (std::holds_alternative<MagCacheConfig>(config)) {
      hook = make_mag_cache_hook(session, index, blocks[i].streams);
    } else if (std::holds_alternative<SeaCacheConfig>(config)) {
      hook = make_sea_cache_hook(session, index, blocks[i].streams);
    } else {
      TESSERA_INTERNAL_ASSERT(std::holds_alternative<DBCacheConfig>(config), "a block cache without its hook: ",
                              cache_method_name(config));
      hook = make_db_cache_hook(session, index, blocks[i].streams);
    }
    HookRegistry::get_or_create(*blocks[i].module).register_hook(kCacheHookName, hook);
  }
  if (std::holds_alternative<SeaCacheConfig>(config)) {
    HookRegistry::get_or_create(model).register_hook(kCacheHookName, make_sea_cache_model_hook(session, *inputs));
  }
}

void disable_cache(HookableModel& model) {
  for (const auto& [path, module] : model.all_modules()) {
    if (HookRegistry* registry = module->hook_registry()) registry->remove_hook(kCacheHookName);
  }
}

bool cache_enabled(HookableModel& model) { return find_hook(model) != nullptr; }

std::shared_ptr<CacheSession> cache_session(HookableModel& model) {
  auto hook = find_hook(model);
  TESSERA_CHECK(hook != nullptr, "no cache is enabled on ", model.class_name(), "; call enable_cache first");
  return hook->session();
}

void cache_context(HookableModel& model, const std::string& name) {
  TESSERA_CHECK(!name.empty(), "cache_context needs a non-empty name (for example \"cond\" or \"uncond\")");
  cache_session(model)->states().set_context(name);
}

void reset_cache(HookableModel& model) { cache_session(model)->reset(); }

void set_cache_timestep(HookableModel& model, double timestep) { cache_session(model)->set_timestep(timestep); }

void set_cache_step(HookableModel& model, const CacheStep& step) { cache_session(model)->set_step(step); }

const std::vector<CacheRecord>& cache_records(HookableModel& model) { return cache_session(model)->records(); }

std::string cache_stats(HookableModel& model) {
  const auto session = cache_session(model);
  std::ostringstream table;
  table << cache_method_name(session->config()) << ", " << session->num_blocks() << " blocks\n";
  table << "context   step  metric      blocks (C computed, S skipped, F forecast; PAB and FasterCache: metric is "
           "the timestep, blocks the hooked attention modules, and for FasterCache last the unconditional branch)\n";
  int64_t counts[3] = {0, 0, 0};
  const auto& records = session->records();
  for (size_t i = 0; i < records.size();) {
    const CacheRecord& first = records[i];
    std::string letters;
    size_t j = i;
    for (; j < records.size() && records[j].context == first.context && records[j].step == first.step; ++j) {
      letters += "CSF"[static_cast<int>(records[j].action)];
      ++counts[static_cast<int>(records[j].action)];
    }
    char metric[32];
    if (std::isnan(first.metric)) {
      std::snprintf(metric, sizeof metric, "%-10s", "-");
    } else {
      std::snprintf(metric, sizeof metric, "%-10.4g", first.metric);
    }
    char line[96];
    std::snprintf(line, sizeof line, "%-9s %5lld  %s  ", first.context.c_str(), static_cast<long long>(first.step),
                  metric);
    table << line << letters << "\n";
    i = j;
  }
  table << "block calls: " << counts[0] << " computed, " << counts[1] << " skipped, " << counts[2] << " forecast\n";
  return table.str();
}

}  // namespace tessera
