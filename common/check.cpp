#include "common/check.h"

#include <cstring>

namespace tessera::detail {
namespace {

// __FILE__ is absolute under Ninja, or relative to the build directory ("../parallel/x.cpp") when ccache's
// base_dir rewrites paths; messages read better relative to the repository either way.
const char* relative_to_source_root(const char* file) {
  const char* root = TESSERA_SOURCE_ROOT;
  const size_t root_length = std::strlen(root);
  if (std::strncmp(file, root, root_length) == 0 && file[root_length] == '/') return file + root_length + 1;
  while (std::strncmp(file, "../", 3) == 0) file += 3;
  return file;
}

}  // namespace

void throw_check_failure(const char* file, int line, const std::string& message) {
  throw Error(concat(message, " (at ", relative_to_source_root(file), ":", line, ")"));
}

void throw_internal_failure(const char* file, int line, const char* condition, const std::string& message) {
  throw Error(concat("internal error: ", condition, " failed at ", relative_to_source_root(file), ":", line,
                     message.empty() ? "" : ": ", message, ". This is a tessera bug; please report it."));
}

}  // namespace tessera::detail
