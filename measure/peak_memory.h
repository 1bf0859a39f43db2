#pragma once
// Peak resident memory of this process over a stretch of work. getrusage's ru_maxrss only grows, so a later,
// smaller piece of work would report an earlier one's peak; Linux lets a process reset its high-water mark
// (VmHWM in /proc/self/status) to the current resident size by writing "5" to /proc/self/clear_refs. Before
// resetting, malloc_trim hands the heap's free pages back, so memory an earlier piece freed but glibc kept does
// not count as this one's.
#include <cstdint>

namespace tessera {

class PeakMemoryWindow {
 public:
  // Trims the heap, resets the high-water mark and reads the resident size it starts from.
  PeakMemoryWindow();

  // False where the kernel refused the reset (then peak_bytes() is the process's peak since it started).
  bool reset() const { return reset_; }
  int64_t start_bytes() const { return start_bytes_; }
  // The high-water mark now: the most this process had resident since the window opened.
  int64_t peak_bytes() const;

 private:
  bool reset_ = false;
  int64_t start_bytes_ = 0;
};

// VmRSS and VmHWM of /proc/self/status in bytes; 0 where the file is absent (not Linux).
int64_t resident_bytes();
int64_t resident_high_water_bytes();

}  // namespace tessera
