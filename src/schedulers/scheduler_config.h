#pragma once
// Building a scheduler from a diffusers scheduler_config.json.
#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>

#include "src/schedulers/scheduler.h"

namespace tessera {

// The scheduler that `path` describes: a scheduler_config.json, or a directory holding one (the
// "scheduler" folder of a diffusers pipeline). Dispatches on "_class_name"; keys left out take diffusers'
// defaults. Throws tessera::Error naming the file and key for a malformed file, an unknown class, a
// value of the wrong type, or an option value tessera does not implement (listing what it does).
std::unique_ptr<Scheduler> load_scheduler(const std::string& path);

// The same from an already parsed config; `source` names it in error messages.
std::unique_ptr<Scheduler> make_scheduler(const nlohmann::json& config, const std::string& source);

}  // namespace tessera
