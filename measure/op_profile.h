#pragma once
// Time per ATen op that tessera's code calls directly (a top-level op: the ops it runs inside count toward it), to
// compare a forward op by op with diffusers' (torch.profiler's top-level events of the same module):
// benchmarks/profile_vs_diffusers.py. While an OpProfile lives, a global RecordFunction callback times every op
// started on a thread that has no op in progress.
#include <cstdint>
#include <map>
#include <string>

namespace tessera {

struct OpTime {
  int64_t calls = 0;
  double seconds = 0;
};

class OpProfile {
 public:
  OpProfile();
  ~OpProfile();
  OpProfile(const OpProfile&) = delete;
  OpProfile& operator=(const OpProfile&) = delete;

  // Per op name, summed over every thread since construction.
  std::map<std::string, OpTime> times() const;

 private:
  uint64_t handle_ = 0;
};

}  // namespace tessera
