#pragma once
#include <cstdint>
#include <string>

namespace tessera::cli {

// The number of attention heads of the transformer in `dir` (a model directory, or a pipeline folder: its
// transformer; with two experts, the greatest common divisor of theirs), from its config.json alone, with no weights read: what the default degrees of parallelism are
// chosen from. Throws tessera::Error naming the directory when the config does not say.
int64_t attention_heads(const std::string& dir);

}  // namespace tessera::cli
