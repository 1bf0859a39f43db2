#pragma once
// Every CUDA runtime and NCCL return code goes through one of these macros, which name the failed call.
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
    if (tessera_nccl_status != ncclSuccess && tessera_nccl_status != ncclInProgress) [[unlikely]]      \
      ::tessera::detail::throw_check_failure(                                                          \
          __FILE__, __LINE__,                                                                          \
          ::tessera::detail::concat(#call, " failed: ", ncclGetErrorString(tessera_nccl_status), " (", \
                                    ncclGetLastError(nullptr), ")"));                                  \
  } while (0)
