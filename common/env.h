#pragma once
#include <string>

namespace tessera::env {

// Reads a positive number of seconds from an environment variable; a malformed value is an error naming it.
double seconds(const char* name, double fallback);
std::string string(const char* name, const std::string& fallback);

}  // namespace tessera::env
