#pragma once
// Reading a small JSON file (a recipe, a tokenizer's vocabulary, model_index.json) with one clear error naming
// the file for each way it can be wrong.
#include <nlohmann/json.hpp>

#include <string>

namespace tessera::io {

// The JSON object in `path`. Throws tessera::Error naming the file when it cannot be opened, is not valid
// JSON (with the parser's position), or holds something other than an object. `missing_hint` is appended to
// the message for a missing file (what the file is for, where it should be).
nlohmann::json read_json_object(const std::string& path, const std::string& missing_hint = "");

}  // namespace tessera::io
