#include "kernels/device_synchronize.h"

#include <c10/core/impl/DeviceGuardImplInterface.h>

namespace tessera {

void synchronize_device(c10::Device device) {
  if (device.is_cpu()) return;
  c10::impl::getDeviceGuardImpl(device.type())->synchronizeDevice(device.index());
}

}  // namespace tessera
