#pragma once
// --stats-json for caches: what every cached block did at every step on every rank, and the decision
// metric, in one document that rank 0 writes for the whole job.
#include <string>
#include <vector>

namespace tessera {

class Communicator;
class HookableModel;

// Collective over `world`. Returns the document on rank 0 and an empty string on the other ranks:
// {"method": "first_block_cache", "blocks": ["blocks.0", ...] (what each block index is),
//  "ranks": [{"rank": r, "records": [{"context", "step", "block", "action", "metric"}, ...]}, ...]}.
std::string cache_stats_json(HookableModel& model, Communicator& world);

// A model with a cache of its own, named for the document (a pipeline's part: "transformer", "transformer_2").
struct NamedCachedModel {
  std::string name;
  HookableModel* model = nullptr;
};
// The same for several models with the same cache method, each keeping its own steps (a pipeline's experts): the
// records of each model in turn, each with its "model" name, and "models": [{"name", "blocks"}, ...]; "blocks"
// is the first model's.
std::string cache_stats_json(const std::vector<NamedCachedModel>& models, Communicator& world);

}  // namespace tessera
