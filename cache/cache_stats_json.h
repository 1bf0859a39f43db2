#pragma once
// --stats-json for caches: what every cached block did at every step on every rank, and the decision
// metric, in one document that rank 0 writes for the whole job.
#include <string>

namespace tessera {

class Communicator;
class HookableModel;

// Collective over `world`. Returns the document on rank 0 and an empty string on the other ranks:
// {"method": "first_block_cache", "blocks": ["blocks.0", ...] (what each block index is),
//  "ranks": [{"rank": r, "records": [{"context", "step", "block", "action", "metric"}, ...]}, ...]}.
std::string cache_stats_json(HookableModel& model, Communicator& world);

}  // namespace tessera
