#pragma once
// Checking, before any work, that an output file can be created: a typo in a path should fail in a second,
// not after an hour of sampling.
#include <string>

namespace tessera {

// The directory part of `path`: "." for a bare name, "/" for a file in the root.
std::string parent_directory(const std::string& path);

// Throws tessera::Error saying what to change when a file cannot be created at `path`: its directory does
// not exist or we cannot create files in it, or `path` is itself a directory.
void check_writable_file(const std::string& path);

}  // namespace tessera
