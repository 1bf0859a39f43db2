// MpiViewDatatype against the plain answer: MPI_Pack through the type must give the views' elements in logical
// order, tensor after tensor (what .contiguous() and cat give), and MPI_Unpack must write them back in place.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <mpi.h>

#include <vector>

#include "mpi_test_environment.h"
#include "parallel/mpi_view_datatype.h"

namespace tessera::testing {
namespace {

std::vector<char> pack(const MpiViewDatatype& type) {
  int size = 0;
  EXPECT_EQ(MPI_Pack_size(1, type.handle(), MPI_COMM_SELF, &size), MPI_SUCCESS);
  std::vector<char> packed(size);
  int position = 0;
  EXPECT_EQ(MPI_Pack(MPI_BOTTOM, 1, type.handle(), packed.data(), size, &position, MPI_COMM_SELF), MPI_SUCCESS);
  packed.resize(position);
  return packed;
}

at::Tensor logical_bytes(const std::vector<at::Tensor>& views) {
  std::vector<at::Tensor> flat;
  for (const at::Tensor& view : views) flat.push_back(view.contiguous().view(at::kByte).reshape({-1}));
  return at::cat(flat);
}

TEST(MpiViewDatatype, PacksAwkwardViewsInLogicalOrderAndUnpacksThemInPlace) {
  const at::Tensor base = rank_tensor(0, {3, 5, 7, 4}, at::kFloat);
  const at::Tensor half = rank_tensor(0, {6, 5}, at::kBFloat16, 1);
  const std::vector<std::vector<at::Tensor>> cases = {
      {base},                                              // contiguous: one run
      {base.transpose(1, 2)},                              // head-major view of sequence-major memory
      {base.narrow(2, 2, 3), base.narrow(1, 1, 2)},        // chunks of two dims
      {base.permute({3, 0, 2, 1}), half.t()},              // every dim strided, then 2-byte elements
      {base.narrow(0, 1, 1).narrow(3, 1, 2)},              // size-1 dim, short runs
      {base.narrow(1, 0, 0), half},                        // an empty view beside a full one
      {base.select(3, 1).unsqueeze(1).expand({3, 2, 5, 7})},  // a zero stride (repeats when sending)
  };
  for (size_t c = 0; c < cases.size(); ++c) {
    const MpiViewDatatype type(cases[c]);
    const at::Tensor expected = logical_bytes(cases[c]);
    EXPECT_EQ(type.bytes(), expected.numel()) << "case " << c;
    const std::vector<char> packed = pack(type);
    ASSERT_EQ(static_cast<int64_t>(packed.size()), expected.numel()) << "case " << c;
    EXPECT_TRUE(at::equal(at::from_blob(const_cast<char*>(packed.data()), {expected.numel()}, at::kByte), expected))
        << "case " << c;
  }

  // Unpacking writes the bytes back through the same strides: into a head-major view of zeros.
  at::Tensor target = at::zeros({3, 7, 5, 4});
  const at::Tensor view = target.transpose(1, 2);
  const MpiViewDatatype type(std::vector<at::Tensor>{view});
  at::Tensor source = base.contiguous();
  int position = 0;
  ASSERT_EQ(MPI_Unpack(source.data_ptr(), static_cast<int>(source.nbytes()), &position, MPI_BOTTOM, 1, type.handle(),
                       MPI_COMM_SELF),
            MPI_SUCCESS);
  EXPECT_TRUE(at::equal(view, base));
}

TEST(MpiViewDatatype, RejectsDeviceTensors) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device visible";
  const at::Tensor on_device = at::zeros({2, 2}, at::kCUDA);
  EXPECT_ANY_THROW(MpiViewDatatype(std::vector<at::Tensor>{on_device}));
}

}  // namespace
}  // namespace tessera::testing
