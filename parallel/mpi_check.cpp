#include "parallel/mpi_check.h"

#include "common/check.h"

namespace tessera::detail {

void throw_mpi_failure(const char* call, int code, const char* file, int line) {
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  throw_check_failure(file, line, concat(call, " failed with MPI error ", code, ": ", std::string(text, length)));
}

}  // namespace tessera::detail
