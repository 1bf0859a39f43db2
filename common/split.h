#pragma once
// "a;b;;c" -> {"a", "b", "c"}: the non-empty pieces of `text` between `separator`s. Lists inside flags and specs
// use ';' because their items contain commas (cache specs) or are patterns.
#include <string>
#include <string_view>
#include <vector>

namespace tessera {

std::vector<std::string> split_nonempty(std::string_view text, char separator);

}  // namespace tessera
