#include "cache/cache_stats_json.h"

#include <nlohmann/json.hpp>

#include <cmath>

#include "cache/enable_cache.h"
#include "common/check.h"
#include "parallel/communicator.h"
#include "parallel/gather_text.h"

namespace tessera {
namespace {

// `name` empty: one model, whose records carry no "model" key.
void append_records(HookableModel& model, const std::string& name, nlohmann::json& records) {
  for (const auto& record : cache_records(model)) {
    const nlohmann::json metric = std::isfinite(record.metric) ? nlohmann::json(record.metric) : nlohmann::json();
    nlohmann::json entry = {{"context", record.context},
                            {"step", record.step},
                            {"block", record.block},
                            {"action", to_string(record.action)},
                            {"metric", metric}};
    if (!name.empty()) entry["model"] = name;
    records.push_back(std::move(entry));
  }
}

std::string document(const std::vector<NamedCachedModel>& models, Communicator& world, bool named) {
  TESSERA_CHECK(!models.empty(), "cache_stats_json needs at least one model");
  nlohmann::json records = nlohmann::json::array();
  for (const auto& model : models) append_records(*model.model, named ? model.name : std::string(), records);
  const auto per_rank = all_gather_text(world, records.dump());
  if (world.rank() != 0) return {};
  nlohmann::json document;
  const auto session = cache_session(*models.front().model);
  document["method"] = cache_method_name(session->config());
  document["blocks"] = session->block_names();
  if (named) {
    document["models"] = nlohmann::json::array();
    for (const auto& model : models) {
      document["models"].push_back({{"name", model.name}, {"blocks", cache_session(*model.model)->block_names()}});
    }
  }
  document["ranks"] = nlohmann::json::array();
  for (size_t rank = 0; rank < per_rank.size(); ++rank) {
    document["ranks"].push_back({{"rank", rank}, {"records", nlohmann::json::parse(per_rank[rank])}});
  }
  return document.dump(1) + "\n";
}

}  // namespace

std::string cache_stats_json(HookableModel& model, Communicator& world) {
  return document({{.name = "", .model = &model}}, world, /*named=*/false);
}

std::string cache_stats_json(const std::vector<NamedCachedModel>& models, Communicator& world) {
  return document(models, world, /*named=*/true);
}

}  // namespace tessera
