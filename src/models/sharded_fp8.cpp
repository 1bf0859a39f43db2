#include "src/models/sharded_fp8.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "common/check.h"
#include "common/log.h"
#include "parallel/sharded_weights.h"
#include "parallel/weight_gather_hooks.h"
#include "parallel/communicator.h"
#include "src/models/fp8_scaled_linear.h"
#include "src/models/fp8_scaled_storage.h"
#include "src/models/layers.h"
#include "src/models/model.h"

namespace tessera {
namespace {

// Part of a share [begin, begin + count) of a row-major [rows, columns] matrix: `rows` rows from `row`, `columns`
// wide, starting at element `offset` of the share. A share is at most three: the end of a row, whole rows, the
// start of one.
struct RowSegment {
  int64_t row = 0, rows = 0, columns = 0, offset = 0;
};

std::vector<RowSegment> row_segments(int64_t begin, int64_t count, int64_t columns) {
  std::vector<RowSegment> segments;
  for (int64_t at = 0; at < count;) {
    const int64_t row = (begin + at) / columns, column = (begin + at) % columns;
    if (column != 0 || count - at < columns) {
      const int64_t length = std::min(columns - column, count - at);
      segments.push_back({.row = row, .rows = 1, .columns = length, .offset = at});
      at += length;
    } else {
      const int64_t rows = (count - at) / columns;
      segments.push_back({.row = row, .rows = rows, .columns = columns, .offset = at});
      at += rows * columns;
    }
  }
  return segments;
}

at::Tensor segment_of(const at::Tensor& share, const RowSegment& segment) {
  return share.narrow(0, segment.offset, segment.rows * segment.columns).view({segment.rows, segment.columns});
}

std::string weight_name(const Fp8Layer& layer) { return detail::concat(layer.path, ".weight"); }

}  // namespace

ShardedFp8Storage::ShardedFp8Storage(Model& model, WeightStorage storage, const io::DtypeOf& dtype_of)
    : storage_(storage) {
  TESSERA_INTERNAL_ASSERT(storage != WeightStorage::full, "sharded FP8 storage for --weights full");
  const char* flag = weight_storage_name(storage);
  for (const Fp8Layer& layer : fp8_layers(model, fp8_skip_patterns(model.class_name(), flag))) {
    const std::string weight = weight_name(layer);
    const at::Tensor& tensor = layer.linear->weight();
    layers_.push_back({.layer = layer, .compute_dtype = fp8_compute_dtype(layer.path, dtype_of(weight)),
                       .shape = tensor.sizes().vec(), .scale = at::Tensor()});
    kept_[weight] = at::kFloat8_e4m3fn;
    if (storage != WeightStorage::fp8) continue;  // fp8-scaled keeps biases as they run
    for (const auto& item : layer.linear->named_parameters(/*recurse=*/false)) {
      if (item.value().defined()) kept_[detail::concat(layer.path, ".", item.key())] = at::kFloat8_e4m3fn;
    }
  }
  TESSERA_CHECK(!layers_.empty(), "FP8 weights (--weights ", flag, "): the ", model.class_name(), " has no linear "
                "layer to store in float8_e4m3fn (every one is skipped by its patterns); use --weights full");
}

std::optional<c10::ScalarType> ShardedFp8Storage::kept_dtype(const std::string& name) const {
  const auto found = kept_.find(name);
  return found == kept_.end() ? std::nullopt : std::optional<c10::ScalarType>(found->second);
}

void ShardedFp8Storage::store(const std::map<std::string, LocalPiece>& kept, const ReadShare& read,
                              Communicator& group) {
  if (storage_ == WeightStorage::fp8_scaled) {
    store_scaled(kept, read, group);
    return;
  }
  // Elementwise: the share's cast is the share of the cast tensor.
  for (const auto& [name, piece] : kept) piece.destination.copy_(read(name));
}

void ShardedFp8Storage::store_scaled(const std::map<std::string, LocalPiece>& kept, const ReadShare& read,
                                     Communicator& group) {
  // Each row's largest |w| over the part this rank holds (0 where it holds none), then over the group: the max
  // of the parts' maxima is the row's, exactly.
  std::vector<at::Tensor> maxima;
  for (const Layer& layer : layers_) {
    const std::string name = weight_name(layer.layer);
    const at::Tensor share = read(name);
    at::Tensor absmax = at::zeros({layer.shape[0]}, share.options().dtype(at::kFloat));
    for (const RowSegment& segment : row_segments(kept.at(name).begin, share.numel(), layer.shape[1])) {
      absmax.narrow(0, segment.row, segment.rows).copy_(segment_of(share, segment).to(at::kFloat).abs().amax(1));
    }
    maxima.push_back(absmax);
  }
  const at::Tensor rows = group.all_reduce(at::cat(maxima), ReduceOp::max);
  int64_t first = 0;
  for (Layer& layer : layers_) {
    layer.scale = fp8_row_scales(rows.narrow(0, first, layer.shape[0]));
    first += layer.shape[0];
    const std::string name = weight_name(layer.layer);
    const LocalPiece& piece = kept.at(name);
    const at::Tensor share = read(name);
    for (const RowSegment& segment : row_segments(piece.begin, share.numel(), layer.shape[1])) {
      segment_of(piece.destination, segment)
          .copy_(quantize_fp8_with_scales(segment_of(share, segment), layer.scale.narrow(0, segment.row, segment.rows)));
    }
  }
}

int64_t ShardedFp8Storage::hook(Model& model) {
  for (Layer& layer : layers_) {
    if (storage_ == WeightStorage::fp8) {
      hook_layerwise_casting(layer.layer, at::kFloat8_e4m3fn, layer.compute_dtype);
    } else {
      TESSERA_INTERNAL_ASSERT(layer.scale.defined(), "sharded fp8-scaled: hooked before its shares were stored");
      hook_fp8_scaled(layer.layer, layer.compute_dtype, layer.scale);
    }
  }
  const auto shares = sharded_weights_of(model);
  TESSERA_INTERNAL_ASSERT(shares != nullptr, "sharded FP8 storage on a model that is not sharded");
  int64_t scale_bytes = 0;
  for (const Layer& layer : layers_) scale_bytes += layer.scale.defined() ? layer.scale.nbytes() : 0;
  TESSERA_LOG_INFO(weight_storage_name(storage_), " weights, sharded: ", layers_.size(), " linear layers of the ",
                   model.class_name(), " stored in float8_e4m3fn; this rank holds ", shares->local_bytes(), " of its ",
                   shares->total_bytes(), " parameter bytes", scale_bytes > 0 ? detail::concat(", and ", scale_bytes,
                   " bytes of fp32 scales whole") : std::string());
  return static_cast<int64_t>(layers_.size());
}

}  // namespace tessera
