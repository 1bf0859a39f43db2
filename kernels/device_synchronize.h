#pragma once
#include <c10/core/Device.h>

namespace tessera {

// Returns once every stream of `device` has finished its queued work (nothing to do on the CPU). Timers need it:
// on CUDA a call returns when its work is enqueued, so an unsynchronised timer measures enqueue time.
void synchronize_device(c10::Device device);

}  // namespace tessera
