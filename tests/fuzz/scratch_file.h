#pragma once
// For harnesses whose entry point reads a file: writes the input there, in a directory private to the
// process (made on first use, removed at exit; a crashed run leaves it in the temporary directory).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace tessera::fuzz {

inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    std::string pattern = (std::filesystem::temp_directory_path() / "tessera-fuzz-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    return pattern;
  }();
  static const struct Remover {
    ~Remover() { std::filesystem::remove_all(dir); }
  } remover;
  return dir;
}

// Writes [data, data + size) to scratch_dir()/name and returns the directory.
inline const std::string& write_scratch_file(const std::string& name, const uint8_t* data, size_t size) {
  const std::string& dir = scratch_dir();
  std::FILE* file = std::fopen((dir + "/" + name).c_str(), "wb");
  if (file == nullptr || (size > 0 && std::fwrite(data, 1, size, file) != size) || std::fclose(file) != 0) {
    std::perror("writing the fuzz input");
    std::abort();
  }
  return dir;
}

}  // namespace tessera::fuzz
