#include "common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <array>
#include <utility>

namespace tessera::log {
namespace {

constexpr std::array<std::pair<const char*, Level>, 6> kLevelNames{{{"trace", Level::trace},
                                                                    {"debug", Level::debug},
                                                                    {"info", Level::info},
                                                                    {"warn", Level::warn},
                                                                    {"error", Level::error},
                                                                    {"off", Level::off}}};

spdlog::level::level_enum to_spdlog(Level level) {
  switch (level) {
    case Level::trace: return spdlog::level::trace;
    case Level::debug: return spdlog::level::debug;
    case Level::info: return spdlog::level::info;
    case Level::warn: return spdlog::level::warn;
    case Level::error: return spdlog::level::err;
    case Level::off: return spdlog::level::off;
  }
  return spdlog::level::info;
}

// Logs go to stderr so that stdout stays clean for command output (tessera info, JSON).
spdlog::logger& logger() {
  static std::shared_ptr<spdlog::logger> instance = [] {
    auto created = spdlog::stderr_color_mt("tessera");
    created->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
    created->set_level(spdlog::level::info);
    return created;
  }();
  return *instance;
}

}  // namespace

void configure(int rank, int world_size, std::optional<Level> level) {
  const Level effective = level.value_or(rank == 0 ? Level::info : Level::warn);
  logger().set_pattern("[%H:%M:%S.%e] [rank " + std::to_string(rank) + "/" + std::to_string(world_size) +
                       "] [%^%l%$] %v");
  logger().set_level(to_spdlog(effective));
  logger().flush_on(spdlog::level::warn);
}

Level parse_level(const std::string& name) {
  for (const auto& [level_name, level] : kLevelNames) {
    if (name == level_name) return level;
  }
  TESSERA_CHECK(false, "unknown log level '", name, "'; use one of trace, debug, info, warn, error, off");
}

bool enabled(Level level) { return logger().should_log(to_spdlog(level)); }

void write(Level level, const std::string& message) { logger().log(to_spdlog(level), message); }

void fatal(const std::string& message) {
  // Straight to the sinks: the logger's own level would drop the record under --log-level off.
  const spdlog::details::log_msg record(logger().name(), spdlog::level::critical, message);
  for (const auto& sink : logger().sinks()) {
    sink->log(record);
    sink->flush();
  }
}

void flush() { logger().flush(); }

}  // namespace tessera::log
