#include "cache/cache_stats_json.h"

#include <nlohmann/json.hpp>

#include <cmath>

#include "cache/enable_cache.h"
#include "parallel/communicator.h"
#include "parallel/gather_text.h"

namespace tessera {

std::string cache_stats_json(HookableModel& model, Communicator& world) {
  nlohmann::json records = nlohmann::json::array();
  for (const auto& record : cache_records(model)) {
    records.push_back({{"context", record.context},
                       {"step", record.step},
                       {"block", record.block},
                       {"action", to_string(record.action)},
                       {"metric", std::isfinite(record.metric) ? nlohmann::json(record.metric) : nlohmann::json()}});
  }
  const auto per_rank = all_gather_text(world, records.dump());
  if (world.rank() != 0) return {};
  nlohmann::json document;
  const auto session = cache_session(model);
  document["method"] = cache_method_name(session->config());
  document["blocks"] = session->block_names();
  document["ranks"] = nlohmann::json::array();
  for (size_t rank = 0; rank < per_rank.size(); ++rank) {
    document["ranks"].push_back({{"rank", rank}, {"records", nlohmann::json::parse(per_rank[rank])}});
  }
  return document.dump(1) + "\n";
}

}  // namespace tessera
