#pragma once
// An MPI datatype over strided tensors where they lie: their elements in logical (row-major) order, one tensor
// after another, at absolute addresses (sent or received with MPI_BOTTOM). MPI then packs the send and unpacks
// the receive itself, straight into its transfer fragments, so an all-to-all of views needs no staging buffers
// (MpiCommunicator::exchange_chunks).
#include <ATen/core/Tensor.h>
#include <mpi.h>

#include <cstdint>

namespace tessera {

class MpiViewDatatype {
 public:
  // views: CPU tensors of any strides (not negative); they must outlive the communication that uses the type.
  explicit MpiViewDatatype(at::TensorList views);
  ~MpiViewDatatype();
  MpiViewDatatype(const MpiViewDatatype&) = delete;
  MpiViewDatatype& operator=(const MpiViewDatatype&) = delete;

  MPI_Datatype handle() const { return type_; }
  int64_t bytes() const { return bytes_; }  // the payload: every view's elements

 private:
  MPI_Datatype type_ = MPI_DATATYPE_NULL;
  int64_t bytes_ = 0;
};

}  // namespace tessera
