#include "src/io/json_file.h"

#include <fstream>

#include "common/check.h"

namespace tessera::io {

nlohmann::json read_json_object(const std::string& path, const std::string& missing_hint) {
  std::ifstream stream(path);
  TESSERA_CHECK(stream.good(), "cannot open ", path, missing_hint.empty() ? "" : " (", missing_hint,
                missing_hint.empty() ? "" : ")");
  nlohmann::json json;
  // Not only parse_error: a number beyond a double (1e400) throws out_of_range.
  try {
    json = nlohmann::json::parse(stream);
  } catch (const nlohmann::json::exception& error) {
    TESSERA_CHECK(false, path, " is not valid JSON: ", error.what());
  }
  TESSERA_CHECK(json.is_object(), path, " must hold a JSON object, not ", json.type_name());
  return json;
}

}  // namespace tessera::io
