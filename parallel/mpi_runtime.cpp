#include "parallel/mpi_runtime.h"

#include <mpi.h>

#include "common/check.h"
#include "parallel/deadline.h"
#include "parallel/mpi_check.h"

namespace tessera {

MpiRuntime::MpiRuntime(int* argc, char*** argv, MpiThreading threading) {
  int initialized = 0;
  TESSERA_CHECK_MPI(MPI_Initialized(&initialized));
  TESSERA_CHECK(!initialized, "MPI is already initialised; create one MpiRuntime per process");
  int provided = 0;
  // Only the main thread calls MPI, torch's worker threads never do, unless the command asks for more.
  const int wanted = threading == MpiThreading::multiple ? MPI_THREAD_MULTIPLE : MPI_THREAD_FUNNELED;
  TESSERA_CHECK_MPI(MPI_Init_thread(argc, argv, wanted, &provided));
  mark_mpi_thread();
  TESSERA_CHECK_MPI(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  TESSERA_CHECK_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &world_rank_));
  TESSERA_CHECK_MPI(MPI_Comm_size(MPI_COMM_WORLD, &world_size_));
  MPI_Comm node;
  TESSERA_CHECK_MPI(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world_rank_, MPI_INFO_NULL, &node));
  TESSERA_CHECK_MPI(MPI_Comm_rank(node, &local_rank_));
  TESSERA_CHECK_MPI(MPI_Comm_size(node, &local_size_));
  TESSERA_CHECK_MPI(MPI_Comm_free(&node));
}

MpiRuntime::~MpiRuntime() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

bool MpiRuntime::any_thread_may_call() {
  int provided = MPI_THREAD_SINGLE;
  TESSERA_CHECK_MPI(MPI_Query_thread(&provided));
  return provided == MPI_THREAD_MULTIPLE;
}

std::string MpiRuntime::library_version() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int length = 0;
  TESSERA_CHECK_MPI(MPI_Get_library_version(text, &length));
  std::string version(text, length);
  const auto line_end = version.find_first_of("\n,");
  return version.substr(0, line_end);
}

}  // namespace tessera
