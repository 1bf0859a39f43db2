#include "src/pipelines/prompt_broadcast.h"

#include <ATen/ATen.h>

#include <array>

#include "common/check.h"
#include "parallel/communicator.h"
#include "src/models/text_encoder.h"

namespace tessera {
namespace {

constexpr int64_t kMaxDims = 3;
constexpr int64_t kFields = 1 + kMaxDims;  // per tensor: its rank (-1: undefined), then its sizes

void describe(const at::Tensor& tensor, int64_t* out) {
  out[0] = tensor.defined() ? tensor.dim() : -1;
  if (!tensor.defined()) return;
  TESSERA_INTERNAL_ASSERT(tensor.dim() <= kMaxDims, "prompt embeddings of ", tensor.dim(), " dimensions");
  for (int64_t d = 0; d < tensor.dim(); ++d) out[1 + d] = tensor.size(d);
}

// Root's tensor on every rank, from its row of the shape table; undefined where root's is.
at::Tensor broadcast_field(const at::Tensor& tensor, const int64_t* shape, c10::ScalarType dtype, Communicator& group,
                           int root, c10::Device device) {
  if (shape[0] < 0) return {};
  const std::vector<int64_t> sizes(shape + 1, shape + 1 + shape[0]);
  // bool travels as bytes: not every backend reduces or sends it natively.
  const c10::ScalarType wire = dtype == at::kBool ? at::kByte : dtype;
  const at::Tensor input = group.rank() == root ? tensor.to(device, wire).contiguous()
                                                : at::empty(sizes, at::TensorOptions().dtype(wire).device(device));
  return group.broadcast(input, root).to(dtype);
}

}  // namespace

PromptEmbeddings broadcast_prompt_embeddings(const PromptEmbeddings& text, Communicator& group, int root,
                                             c10::Device device) {
  std::array<int64_t, 3 * kFields> table{};
  if (group.rank() == root) {
    describe(text.embeddings, table.data());
    describe(text.mask, table.data() + kFields);
    describe(text.pooled, table.data() + 2 * kFields);
    TESSERA_INTERNAL_ASSERT(table[0] >= 0, "the encoding rank has no embeddings to send");
  }
  const at::Tensor shapes =
      group.broadcast(at::from_blob(table.data(), {static_cast<int64_t>(table.size())}, at::kLong).clone(), root)
          .to(at::kCPU);
  const int64_t* received = shapes.data_ptr<int64_t>();
  PromptEmbeddings result;
  result.embeddings = broadcast_field(text.embeddings, received, at::kFloat, group, root, device);
  result.mask = broadcast_field(text.mask, received + kFields, at::kBool, group, root, device);
  result.pooled = broadcast_field(text.pooled, received + 2 * kFields, at::kFloat, group, root, device);
  return result;
}

}  // namespace tessera
