#include "launch/progress_bar.h"

#include <unistd.h>

#include <cstdio>

namespace tessera::cli {

ProgressBar::ProgressBar(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled), terminal_(isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(int64_t done, double seconds) {
  if (!enabled_) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double per_unit = done > 0 ? elapsed / static_cast<double>(done) : 0.0;
  const double eta = per_unit * static_cast<double>(total_ - done);
  constexpr int kWidth = 24;
  const int filled = total_ > 0 ? static_cast<int>(kWidth * done / total_) : kWidth;
  const std::string bar = std::string(filled, '#') + std::string(kWidth - filled, '.');
  if (terminal_) {
    std::fprintf(stderr, "\r%s %lld/%lld [%s] %.3f s/%s, eta %.1f s ", label_.c_str(), static_cast<long long>(done),
                 static_cast<long long>(total_), bar.c_str(), per_unit, label_.c_str(), eta);
    open_line_ = true;
  } else {
    std::fprintf(stderr, "%s %lld/%lld: %.3f s (mean %.3f s/%s), eta %.1f s\n", label_.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total_), seconds, per_unit, label_.c_str(), eta);
  }
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (open_line_) std::fputc('\n', stderr);
  open_line_ = false;
}

}  // namespace tessera::cli
