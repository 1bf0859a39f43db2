#include "parallel/mpi_view_datatype.h"

#include <climits>
#include <vector>

#include "common/check.h"
#include "parallel/mpi_check.h"

namespace tessera {
namespace {

// A dim of a view as MPI walks it: `count` steps of `stride_bytes`.
struct Step {
  int64_t count;
  int64_t stride_bytes;
};

int checked_int(int64_t value, const char* what) {
  TESSERA_CHECK(value >= 0 && value <= INT_MAX, "an MPI datatype's ", what, " of ", value,
                " exceeds MPI's int range; split the tensor or use the NCCL backend");
  return static_cast<int>(value);
}

// The view's elements as one contiguous run of bytes repeated through nested strides: size-1 dims dropped,
// trailing dims that continue the run merged into it, and a dim whose stride spans the next one's whole extent
// merged with it (fewer nesting levels for MPI's pack loops).
MPI_Datatype view_type(const at::Tensor& view) {
  TESSERA_CHECK(view.is_cpu(), "an MPI view datatype reads host memory, got a tensor on ", view.device());
  const int64_t element = view.element_size();
  std::vector<Step> steps;  // outermost first
  for (int64_t d = 0; d < view.dim(); ++d) {
    TESSERA_CHECK(view.stride(d) >= 0, "an MPI view datatype needs non-negative strides, got ", view.strides());
    if (view.size(d) == 1) continue;
    const Step step{view.size(d), view.stride(d) * element};
    if (!steps.empty() && steps.back().stride_bytes == step.stride_bytes * step.count) {
      steps.back() = {steps.back().count * step.count, step.stride_bytes};
    } else {
      steps.push_back(step);
    }
  }
  int64_t run_bytes = element;
  if (view.numel() == 0) {
    steps = {};
    run_bytes = 0;
  }
  while (!steps.empty() && steps.back().stride_bytes == run_bytes) {
    run_bytes *= steps.back().count;
    steps.pop_back();
  }
  MPI_Datatype type;
  TESSERA_CHECK_MPI(MPI_Type_contiguous(checked_int(run_bytes, "contiguous run"), MPI_BYTE, &type));
  for (auto step = steps.rbegin(); step != steps.rend(); ++step) {
    MPI_Datatype outer;
    TESSERA_CHECK_MPI(MPI_Type_create_hvector(checked_int(step->count, "dimension"), 1,
                                              static_cast<MPI_Aint>(step->stride_bytes), type, &outer));
    TESSERA_CHECK_MPI(MPI_Type_free(&type));
    type = outer;
  }
  return type;
}

}  // namespace

MpiViewDatatype::MpiViewDatatype(at::TensorList views) {
  std::vector<MPI_Datatype> types;
  std::vector<MPI_Aint> addresses;
  for (const at::Tensor& view : views) {
    types.push_back(view_type(view));
    MPI_Aint address = 0;
    TESSERA_CHECK_MPI(MPI_Get_address(view.const_data_ptr(), &address));
    addresses.push_back(address);
    bytes_ += view.numel() * view.element_size();
  }
  checked_int(bytes_, "payload in bytes");
  const std::vector<int> one_each(types.size(), 1);
  TESSERA_CHECK_MPI(MPI_Type_create_struct(static_cast<int>(types.size()), one_each.data(), addresses.data(),
                                           types.data(), &type_));
  for (MPI_Datatype& type : types) TESSERA_CHECK_MPI(MPI_Type_free(&type));
  TESSERA_CHECK_MPI(MPI_Type_commit(&type_));
}

MpiViewDatatype::~MpiViewDatatype() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && type_ != MPI_DATATYPE_NULL) MPI_Type_free(&type_);
}

}  // namespace tessera
