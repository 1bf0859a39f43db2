#include "common/writable_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/check.h"

namespace tessera {
namespace {

// POSIX rather than std::filesystem: the torch wheel's libtorch exports its own std::filesystem symbols.
bool is_directory(const std::string& path) {
  struct stat status {};
  return ::stat(path.c_str(), &status) == 0 && S_ISDIR(status.st_mode);
}

}  // namespace

std::string parent_directory(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

void check_writable_file(const std::string& path) {
  TESSERA_CHECK(!path.empty(), "the output file name is empty; give a path");
  TESSERA_CHECK(!is_directory(path), "cannot write ", path, ": it is a directory; give a file name inside it");
  const std::string directory = parent_directory(path);
  TESSERA_CHECK(is_directory(directory), "cannot write ", path, ": directory ", directory,
                " does not exist; create it first (mkdir -p ", directory, ")");
  // Creating (and removing) a file is the only reliable test: permissions, read-only mounts, ACLs, quotas.
  std::string probe = (directory == "/" ? "" : directory) + "/.tessera_write_check.tmp.XXXXXX";
  const int descriptor = ::mkstemp(probe.data());
  TESSERA_CHECK(descriptor >= 0, "cannot write ", path, ": cannot create files in directory ", directory, " (",
                std::strerror(errno), "); choose a directory you can write to");
  ::close(descriptor);
  ::unlink(probe.c_str());
}

}  // namespace tessera
