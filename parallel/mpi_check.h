#pragma once
// Every MPI return code goes through TESSERA_CHECK_MPI, which names the call that failed.
#include <mpi.h>

#include <string>

namespace tessera::detail {
[[noreturn]] void throw_mpi_failure(const char* call, int code, const char* file, int line);
}

#define TESSERA_CHECK_MPI(call)                                                     \
  do {                                                                              \
    const int tessera_mpi_code = (call);                                            \
    if (tessera_mpi_code != MPI_SUCCESS) [[unlikely]]                               \
      ::tessera::detail::throw_mpi_failure(#call, tessera_mpi_code, __FILE__, __LINE__); \
  } while (0)
