#pragma once
// Narrow logging front-end. spdlog (and its fmt) stay inside common/log.cpp, away from torch's bundled fmt.
#include <optional>
#include <string>

#include "common/check.h"

namespace tessera::log {

enum class Level { trace, debug, info, warn, error, off };

// Rank 0 logs at info, the other ranks at warn, unless `level` is given. Adds the "[rank r/N]" prefix.
void configure(int rank, int world_size, std::optional<Level> level = std::nullopt);
Level parse_level(const std::string& name);  // throws tessera::Error naming the accepted names
bool enabled(Level level);
void write(Level level, const std::string& message);
// An error that ends the program: written whatever the level, `off` included, so that a job that dies says why.
void fatal(const std::string& message);
void flush();

}  // namespace tessera::log

#define TESSERA_LOG(level, ...)                                                         \
  do {                                                                                  \
    if (::tessera::log::enabled(level))                                                 \
      ::tessera::log::write(level, ::tessera::detail::concat(__VA_ARGS__));             \
  } while (0)
#define TESSERA_LOG_DEBUG(...) TESSERA_LOG(::tessera::log::Level::debug, __VA_ARGS__)
#define TESSERA_LOG_INFO(...) TESSERA_LOG(::tessera::log::Level::info, __VA_ARGS__)
#define TESSERA_LOG_WARN(...) TESSERA_LOG(::tessera::log::Level::warn, __VA_ARGS__)
#define TESSERA_LOG_ERROR(...) TESSERA_LOG(::tessera::log::Level::error, __VA_ARGS__)
