#pragma once
#include <string>
#include <vector>

namespace tessera {

class Communicator;

// Every rank's string, in rank order, on every rank (for reports that rank 0 prints or writes).
std::vector<std::string> all_gather_text(Communicator& communicator, const std::string& text);

}  // namespace tessera
