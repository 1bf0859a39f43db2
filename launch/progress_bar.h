#pragma once
// Progress of long work on rank 0's stderr: a bar redrawn in place on a terminal ("step 7/20 [#####....]
// 0.41 s/step, eta 5.3 s"), one plain line per update otherwise (logs, CI), so a batch log stays readable.
#include <chrono>
#include <cstdint>
#include <string>

namespace tessera::cli {

class ProgressBar {
 public:
  // `label` names the unit ("step", "job"); `enabled` false (other ranks) prints nothing.
  ProgressBar(std::string label, int64_t total, bool enabled);
  ~ProgressBar();
  // `done` units finished, the last of which took `seconds`.
  void update(int64_t done, double seconds);
  // Ends the bar's line on a terminal.
  void finish();

 private:
  std::string label_;
  int64_t total_;
  bool enabled_, terminal_, open_line_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace tessera::cli
