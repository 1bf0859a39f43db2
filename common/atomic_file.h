#pragma once
#include <string>

namespace tessera {

// Writes `content` to `path` through a temporary file in the same directory and a rename, so readers
// never see a partial file and a failed job leaves none behind.
void write_file_atomically(const std::string& path, const std::string& content);

}  // namespace tessera
