#include "kernels/l1_sums.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <array>
#include <cmath>
#include <vector>

#include "common/check.h"

namespace tessera {
namespace {

// Fixed-size chunks summed in chunk order: the result is the same whatever the thread count.
constexpr int64_t kChunk = 16384;

template <typename T>
std::array<double, 2> chunk_sums(const T* current, const T* previous, int64_t count) {
  // Four independent accumulators per sum let the compiler overlap the additions.
  double difference[4] = {0, 0, 0, 0}, base[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= count; i += 4) {
    for (int lane = 0; lane < 4; ++lane) {
      const double a = static_cast<double>(static_cast<float>(current[i + lane]));
      const double b = static_cast<double>(static_cast<float>(previous[i + lane]));
      difference[lane] += std::abs(a - b);
      base[lane] += std::abs(b);
    }
  }
  for (; i < count; ++i) {
    const double a = static_cast<double>(static_cast<float>(current[i]));
    const double b = static_cast<double>(static_cast<float>(previous[i]));
    difference[0] += std::abs(a - b);
    base[0] += std::abs(b);
  }
  return {(difference[0] + difference[1]) + (difference[2] + difference[3]), (base[0] + base[1]) + (base[2] + base[3])};
}

template <>
std::array<double, 2> chunk_sums<double>(const double* current, const double* previous, int64_t count) {
  double difference = 0, base = 0;
  for (int64_t i = 0; i < count; ++i) {
    difference += std::abs(current[i] - previous[i]);
    base += std::abs(previous[i]);
  }
  return {difference, base};
}

at::Tensor l1_sums_cpu(const at::Tensor& current_input, const at::Tensor& previous_input) {
  const at::Tensor current = current_input.contiguous(), previous = previous_input.contiguous();
  const int64_t count = current.numel();
  const int64_t chunks = (count + kChunk - 1) / kChunk;
  std::vector<std::array<double, 2>> partial(static_cast<size_t>(chunks), {0.0, 0.0});
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, current.scalar_type(), "l1_sums", [&] {
    const scalar_t* a = current.const_data_ptr<scalar_t>();
    const scalar_t* b = previous.const_data_ptr<scalar_t>();
    at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
      for (int64_t chunk = begin; chunk < end; ++chunk) {
        const int64_t offset = chunk * kChunk;
        partial[static_cast<size_t>(chunk)] = chunk_sums(a + offset, b + offset, std::min(kChunk, count - offset));
      }
    });
  });
  double difference = 0, base = 0;
  for (const auto& [chunk_difference, chunk_base] : partial) {
    difference += chunk_difference;
    base += chunk_base;
  }
  return at::tensor({difference, base}, at::kDouble);
}

}  // namespace

at::Tensor l1_sums_reference(const at::Tensor& current, const at::Tensor& previous) {
  const at::Tensor a = current.to(at::kDouble), b = previous.to(at::kDouble);
  return at::stack({(a - b).abs().sum(), b.abs().sum()}).cpu();
}

at::Tensor l1_sums(const at::Tensor& current, const at::Tensor& previous) {
  TESSERA_CHECK(current.sizes() == previous.sizes() && current.scalar_type() == previous.scalar_type() &&
                    current.device() == previous.device(),
                "l1_sums needs two tensors of one shape, dtype and device, got ", current.sizes(), " ",
                current.scalar_type(), " and ", previous.sizes(), " ", previous.scalar_type());
  if (current.is_cpu()) return l1_sums_cpu(current, previous);
  // On an accelerator the two sums stay two reductions; only the [2] result comes back.
  return at::stack({(current - previous).abs().sum(at::kDouble), previous.abs().sum(at::kDouble)}).cpu();
}

}  // namespace tessera
