#pragma once
// The two sums a cache's relative-L1 metric is made of, in one pass over the activations.
#include <ATen/core/Tensor.h>

namespace tessera {

// fp64 [2] on the CPU: {sum |current - previous|, sum |previous|}, accumulated in double from the inputs' own
// dtype (no fp64 copy of either tensor). The order of the additions does not depend on the thread count.
at::Tensor l1_sums(const at::Tensor& current, const at::Tensor& previous);

// The same in plain ATen (two double copies, three passes): what l1_sums is tested against.
at::Tensor l1_sums_reference(const at::Tensor& current, const at::Tensor& previous);

}  // namespace tessera
