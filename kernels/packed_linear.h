#pragma once
// fp32 linear on the CPU with the weight packed once into MKL's GEMM layout (ATen's mkl::_mkl_reorder_linear_weight
// and mkl::_mkl_linear ops, cblas_sgemm_pack / cblas_sgemm_compute). at::linear repacks the weight's panels on every
// call; at the row counts a sharded sequence gives, that is a visible part of the product (one thread, 1536 x 1536
// and 1536 x 8960 weights: 9.8% at 512 rows, 6.6% at 768, 4.2% at 1024, 3.0% at 1536, 2.4% at 2048;
// docs/performance.md). The pack is made for one row count and costs a second copy of the weight in memory.
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace tessera {

// One Linear's packed weight. linear() packs once the same weight (its data, and its version where autograd tracks
// one) has been multiplied twice in a row by the same number of rows, and uses the pack while that holds; anything
// else (a new row count, a weight replaced or written in place, autograd recording, another dtype or device) runs
// at::linear and drops the pack. TESSERA_CPU_PACKED_WEIGHTS=0 turns packing off.
class PackedLinearWeight {
 public:
  at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);
  bool packed() const { return packed_.defined(); }
  // Frees the pack (its weight is being parked or freed); the next uses pack afresh.
  void release() {
    last_ = {};
    packed_.reset();
  }
  // This torch has the ops (built with MKL) and packing is not turned off.
  static bool available();

 private:
  struct Use {
    const void* data = nullptr;
    int64_t version = -1;
    int64_t rows = -1;
    bool operator==(const Use&) const = default;
  };
  Use last_;
  at::Tensor packed_;
};

// The kernel's contract: at::linear(x, weight, bias).
at::Tensor packed_linear_reference(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

}  // namespace tessera
