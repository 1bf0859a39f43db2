#pragma once
// A scratch directory for one test, removed with everything in it afterwards. Plain POSIX calls instead of
// std::filesystem::remove_all: the torch wheel's libtorch.so exports its own std::filesystem symbols, and
// its remove_all crashes when called from code linked against it.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace tessera::testing {

class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix = "tessera_test") {
    const char* tmpdir = std::getenv("TMPDIR");
    std::string pattern = std::string(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp") + "/" + prefix +
                          "_XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  ~ScratchDir() { remove_tree(path_); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  static void remove_tree(const std::string& path) {
    struct stat status {};
    if (lstat(path.c_str(), &status) != 0) return;
    if (S_ISDIR(status.st_mode)) {
      if (DIR* listing = opendir(path.c_str())) {
        while (const dirent* entry = readdir(listing)) {
          const std::string name = entry->d_name;
          if (name != "." && name != "..") remove_tree(path + "/" + name);
        }
        closedir(listing);
      }
      rmdir(path.c_str());
    } else {
      std::remove(path.c_str());
    }
  }

  std::string path_;
};

}  // namespace tessera::testing
