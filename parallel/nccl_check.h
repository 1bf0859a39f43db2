#pragma once
// Every CUDA runtime and NCCL return code goes through one of these macros, which name the failed call.
// ncclInProgress is not success: a non-blocking communicator's calls are settled by polling (nccl_communicator).
#include <cuda_runtime_api.h>
#include <nccl.h>

#include "common/check.h"

#define TESSERA_CHECK_CUDA(call)                                                                       \
  do {                                                                                                 \
    const cudaError_t tessera_cuda_status = (call);                                                    \
    if (tessera_cuda_status != cudaSuccess) [[unlikely]]                                               \
      ::tessera::detail::throw_check_failure(                                                          \
          __FILE__, __LINE__,                                                                          \
          ::tessera::detail::concat(#call, " failed: ", cudaGetErrorString(tessera_cuda_status)));     \
  } while (0)

#define TESSERA_CHECK_NCCL(call)                                                                       \
  do {                                                                                                 \
    const ncclResult_t tessera_nccl_status = (call);                                                   \
    if (tessera_nccl_status != ncclSuccess) [[unlikely]]                                             \
      ::tessera::detail::throw_check_failure(                                                          \
          __FILE__, __LINE__,                                                                          \
          ::tessera::detail::concat(#call, " failed: ", ncclGetErrorString(tessera_nccl_status), " (", \
                                    ncclGetLastError(nullptr), ")"));                                  \
  } while (0)
