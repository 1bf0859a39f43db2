#pragma once
// Row helpers of the fused CPU kernels (kernels/*_cpu.cpp only, compiled once per instruction set, hence the
// CPU_CAPABILITY namespace as in ATen's kernels): each kernel reads its rows as fp32, computes with at::vec in
// fp32, and writes its output dtype.
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/cpu/vec/functional.h>
#include <ATen/cpu/vec/vec.h>
#include <c10/macros/Macros.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "common/check.h"
#include "kernels/row_offsets.h"

namespace tessera::cpu_kernels::CPU_CAPABILITY {

using Vec = at::vec::Vectorized<float>;

template <typename T>
void to_float(const T* source, float* target, int64_t n) {
  using Reduced = at::vec::Vectorized<T>;
  int64_t j = 0;
  for (; j + Reduced::size() <= n; j += Reduced::size()) {
    const auto [low, high] = at::vec::convert_to_float<T>(Reduced::loadu(source + j));
    low.store(target + j);
    high.store(target + j + Vec::size());
  }
  for (; j < n; ++j) target[j] = static_cast<float>(source[j]);
}

template <typename T>
void from_float(const float* source, T* target, int64_t n) {
  using Reduced = at::vec::Vectorized<T>;
  int64_t j = 0;
  for (; j + Reduced::size() <= n; j += Reduced::size()) {
    at::vec::convert_from_float<T>(Vec::loadu(source + j), Vec::loadu(source + j + Vec::size())).store(target + j);
  }
  for (; j < n; ++j) target[j] = static_cast<T>(source[j]);
}

// Row `row` of `operand` as fp32: the row itself when it is fp32, else converted into `buffer`.
inline const float* read(const RowOperand& operand, int64_t row, int64_t n, float* buffer) {
  const int64_t offset = operand.rows(row);
  switch (operand.tensor.scalar_type()) {
    case at::kFloat:
      return operand.tensor.const_data_ptr<float>() + offset;
    case at::kBFloat16:
      to_float(operand.tensor.const_data_ptr<c10::BFloat16>() + offset, buffer, n);
      return buffer;
    case at::kHalf:
      to_float(operand.tensor.const_data_ptr<c10::Half>() + offset, buffer, n);
      return buffer;
    default:
      TESSERA_INTERNAL_ASSERT(false, "no fp32 row reader for ", operand.tensor.scalar_type());
      return nullptr;
  }
}

// Row `row` of `operand` in place, as its dtype T.
template <typename T>
C10_ALWAYS_INLINE const T* row_of(const RowOperand& operand, int64_t row) {
  return operand.tensor.const_data_ptr<T>() + operand.rows(row);
}

// fp32 lanes rounded to the nearest bfloat16 (ties to even) and kept as fp32, on the bits: c10's rounding without
// the trip through 16-bit lanes (a NaN stays a NaN, though not c10's canonical one).
C10_ALWAYS_INLINE Vec round_to_bfloat16(const Vec& value) {
#if defined(CPU_CAPABILITY_AVX2)
  const __m256i bits = _mm256_castps_si256(value);
  const __m256i lowest_kept = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
  const __m256i rounded = _mm256_add_epi32(_mm256_add_epi32(bits, _mm256_set1_epi32(0x7fff)), lowest_kept);
  return _mm256_castsi256_ps(_mm256_and_si256(rounded, _mm256_set1_epi32(static_cast<int>(0xffff0000u))));
#else
  alignas(64) float lanes[Vec::size()];
  value.store(lanes);
  for (float& lane : lanes) {
    uint32_t bits;
    std::memcpy(&bits, &lane, sizeof(bits));
    bits = (bits + 0x7fffu + ((bits >> 16) & 1u)) & 0xffff0000u;
    std::memcpy(&lane, &bits, sizeof(bits));
  }
  return Vec::loadu(lanes);
#endif
}

// Two fp32 vectors rounded to the 16-bit dtype T and back: what storing them and reading them again gives.
template <typename T>
C10_ALWAYS_INLINE std::pair<Vec, Vec> rounded(const Vec& low, const Vec& high) {
  if constexpr (std::is_same_v<T, c10::BFloat16>) {
    return {round_to_bfloat16(low), round_to_bfloat16(high)};
  } else {
    const auto [rounded_low, rounded_high] = at::vec::convert_to_float<T>(at::vec::convert_from_float<T>(low, high));
    return {rounded_low, rounded_high};
  }
}

// `count` (<= 2 x Vec::size()) values of the 16-bit dtype T from `source` as two fp32 vectors; lanes past
// `count` are zero.
template <typename T>
C10_ALWAYS_INLINE std::pair<Vec, Vec> load_float(const T* source, int64_t count) {
  const auto [low, high] =
      at::vec::convert_to_float<T>(at::vec::Vectorized<T>::loadu(source, static_cast<int>(count)));
  return {low, high};
}

// `count` (<= 2 x Vec::size()) fp32 values from `source` as two vectors; lanes past `count` are zero.
C10_ALWAYS_INLINE std::pair<Vec, Vec> load_pair(const float* source, int64_t count) {
  const int64_t low = std::min<int64_t>(count, Vec::size()), high = count - low;
  return {Vec::loadu(source, static_cast<int>(low)),
          high > 0 ? Vec::loadu(source + Vec::size(), static_cast<int>(high)) : Vec(0.f)};
}

// Where a kernel computes the output row that starts at element `offset` of `output`: that row itself when fp32,
// else `buffer`.
inline float* destination_at(at::Tensor& output, int64_t offset, float* buffer) {
  return output.scalar_type() == at::kFloat ? output.mutable_data_ptr<float>() + offset : buffer;
}

// fp32 `values` into the output row that starts at element `offset`, in the output's dtype (nothing to do when
// `values` is that row already).
inline void write_at(const float* values, at::Tensor& output, int64_t offset, int64_t n) {
  switch (output.scalar_type()) {
    case at::kFloat: {
      float* target = output.mutable_data_ptr<float>() + offset;
      if (target != values) std::copy(values, values + n, target);
      return;
    }
    case at::kBFloat16:
      return from_float(values, output.mutable_data_ptr<c10::BFloat16>() + offset, n);
    case at::kHalf:
      return from_float(values, output.mutable_data_ptr<c10::Half>() + offset, n);
    default:
      TESSERA_INTERNAL_ASSERT(false, "no fp32 row writer for ", output.scalar_type());
  }
}

// The same for row `row` of a contiguous `output` [rows, n].
inline float* destination(at::Tensor& output, int64_t row, int64_t n, float* buffer) {
  return destination_at(output, row * n, buffer);
}
inline void write(const float* values, at::Tensor& output, int64_t row, int64_t n) {
  write_at(values, output, row * n, n);
}

// Sum of the lanes of `sum`.
inline float lanes_sum(const Vec& sum) {
  alignas(64) float lanes[Vec::size()];
  sum.store(lanes);
  float total = 0.f;
  for (int i = 0; i < Vec::size(); ++i) total += lanes[i];
  return total;
}

// at::parallel_for over `rows` rows of `n` elements, in chunks of at least ~32K elements so that small tensors
// stay on one thread.
template <typename Body>
void for_each_row_chunk(int64_t rows, int64_t n, const Body& body) {
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(n, 1));
  at::parallel_for(0, rows, grain, body);
}

}  // namespace tessera::cpu_kernels::CPU_CAPABILITY
