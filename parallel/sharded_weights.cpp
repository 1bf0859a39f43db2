#include "parallel/sharded_weights.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <exception>
#include <numeric>
#include <utility>

#include "common/check.h"
#include "parallel/communicator.h"
#include "parallel/shard_sizes.h"

namespace tessera {

struct ShardedWeights::Slab {
  c10::ScalarType dtype = c10::ScalarType::Float;
  std::vector<size_t> parameters;  // into Unit::parameters, in layout order
  std::vector<int64_t> offsets;    // each parameter's first element in the flat buffer
  int64_t total = 0;               // elements of the whole slab
  std::vector<int64_t> counts;     // elements each rank holds
  int64_t begin = 0;               // this rank's first element
  at::Tensor local;                // this rank's elements
  at::Tensor full;                 // the gathered buffer while the unit is materialised
  bool size_recurs = false;        // another unit has a slab of this size and dtype, which may reuse its buffer
};

struct ShardedWeights::Unit {
  std::string name;
  std::vector<UnitParameter> parameters;
  std::vector<Slab> slabs;
  bool materialized = false;
  bool inference = false;  // its parameters are inference tensors (SameKind)
};

namespace {

// At most this many released buffers are kept: the next unit's gather and one more.
constexpr size_t kSpareBuffers = 2;

int64_t numel_of(const std::vector<int64_t>& shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
}

// A parameter made on the meta device cannot take data through set_data (it refuses to change the backend); its
// TensorImpl takes the new one's storage and metadata directly, so every handle to it sees the data.
void replace_data(at::Tensor& parameter, const at::Tensor& data) {
  if (parameter.is_meta()) {
    parameter.unsafeGetTensorImpl()->shallow_copy_from(data.getIntrusivePtr());
  } else {
    parameter.set_data(data);
  }
}

// A parameter's data must be of its own kind: an inference tensor's (a model built under InferenceMode) or an
// ordinary one's, whatever mode the forward that gathers it runs in; swapping data across kinds would leave a
// TensorImpl with the other kind's dispatch keys. Loading and gathering are no part of a graph.
struct SameKind {
  explicit SameKind(bool inference) : mode(inference) {}
  c10::InferenceMode mode;
  c10::AutoGradMode no_grad{false};
};

}  // namespace

ShardedWeights::ShardedWeights(std::vector<WeightUnit> units, std::shared_ptr<Communicator> group,
                               c10::Device device)
    : device_(device) {
  TESSERA_INTERNAL_ASSERT(group != nullptr, "sharded weights need the generation's group");
  // The gathers get a communicator of their own: a gather stays in flight while the block's own collectives run.
  // On MPI its requests then never share a communicator with theirs; on NCCL it runs on a stream of its own, so the
  // block's all-to-alls do not queue behind the next block's weights.
  group_ = group->size() > 1 ? group->split(0, group->rank(), detail::concat(group->name(), "_weights"))
                             : std::move(group);
  const int ranks = group_->size();
  for (WeightUnit& source : units) {
    Unit unit{.name = std::move(source.name), .parameters = std::move(source.parameters), .slabs = {},
              .materialized = false, .inference = false};
    for (const UnitParameter& parameter : unit.parameters) unit.inference = unit.inference || parameter.handle.is_inference();
    SameKind kind(unit.inference);
    for (size_t p = 0; p < unit.parameters.size(); ++p) {
      const c10::ScalarType dtype = unit.parameters[p].dtype;
      auto slab = std::find_if(unit.slabs.begin(), unit.slabs.end(), [&](const Slab& s) { return s.dtype == dtype; });
      if (slab == unit.slabs.end()) {
        slab = unit.slabs.insert(unit.slabs.end(), Slab{});
        slab->dtype = dtype;
      }
      const int64_t end = slab->offsets.empty() ? 0 : slab->offsets.back() + numel_of(unit.parameters[slab->parameters.back()].shape);
      slab->parameters.push_back(p);
      slab->offsets.push_back(end);
    }
    for (Slab& slab : unit.slabs) {
      slab.total = slab.offsets.back() + numel_of(unit.parameters[slab.parameters.back()].shape);
      slab.counts = shard_sizes(slab.total, ranks);
      slab.begin = exclusive_prefix_sum(slab.counts)[group_->rank()];
      slab.local = at::empty({slab.counts[group_->rank()]}, at::TensorOptions().dtype(slab.dtype).device(device_));
    }
    units_.push_back(std::move(unit));
  }
  // A released buffer is kept only for a slab whose size recurs (the blocks'): a slab of its own size (a text
  // encoder's vocabulary embedding, 2 GiB for UMT5) would hold its buffer for nothing.
  std::map<std::pair<int64_t, c10::ScalarType>, int> slabs_of_size;
  const auto size_of = [](const Slab& slab) { return std::make_pair(slab.total, slab.dtype); };
  for (const Unit& unit : units_) {
    for (const Slab& slab : unit.slabs) ++slabs_of_size[size_of(slab)];
  }
  for (Unit& unit : units_) {
    for (Slab& slab : unit.slabs) slab.size_recurs = slabs_of_size[size_of(slab)] > 1;
  }
}

ShardedWeights::~ShardedWeights() = default;

size_t ShardedWeights::units() const { return units_.size(); }

const std::string& ShardedWeights::unit_name(size_t unit) const { return units_.at(unit).name; }

std::map<std::string, LocalPiece> ShardedWeights::local_pieces() const {
  std::map<std::string, LocalPiece> pieces;
  for (const Unit& unit : units_) {
    for (const Slab& slab : unit.slabs) {
      const int64_t local_end = slab.begin + slab.local.numel();
      for (size_t i = 0; i < slab.parameters.size(); ++i) {
        const UnitParameter& parameter = unit.parameters[slab.parameters[i]];
        const int64_t first = std::max(slab.offsets[i], slab.begin);
        const int64_t last = std::min(slab.offsets[i] + numel_of(parameter.shape), local_end);
        pieces[parameter.name] = last > first
                                     ? LocalPiece{.begin = first - slab.offsets[i],
                                                  .destination = slab.local.narrow(0, first - slab.begin, last - first)}
                                     : LocalPiece{.begin = 0, .destination = slab.local.narrow(0, 0, 0)};
      }
    }
  }
  return pieces;
}

void ShardedWeights::release_all() {
  for (size_t unit = 0; unit < units_.size(); ++unit) {
    units_[unit].materialized = true;  // so that release() empties every parameter, meta ones included
    release(unit);
  }
}

void ShardedWeights::start(size_t unit) {
  TESSERA_INTERNAL_ASSERT(!pending_unit_, "one gather in flight at a time");
  // A group of one holds every unit whole already: materialize() views the rank's own buffers, nothing travels.
  if (group_->size() == 1) return;
  SameKind kind(units_[unit].inference);
  for (Slab& slab : units_[unit].slabs) {
    at::Tensor destination;
    const auto spare = std::find_if(spare_buffers_.begin(), spare_buffers_.end(), [&](const at::Tensor& buffer) {
      return buffer.numel() == slab.total && buffer.scalar_type() == slab.dtype;
    });
    if (spare != spare_buffers_.end()) {
      destination = std::move(*spare);
      spare_buffers_.erase(spare);
    }
    pending_.push_back(group_->all_gather_flat_async(slab.local, slab.counts, std::move(destination)));
  }
  pending_unit_ = unit;
  ++gathers_;
}

void ShardedWeights::materialize(size_t unit) {
  Unit& target = units_.at(unit);
  if (target.materialized) return;
  if (pending_unit_ && *pending_unit_ != unit) {
    // Every rank takes the same path, so the stray gather completes everywhere and is dropped.
    for (auto& exchange : pending_) exchange->wait();
    pending_.clear();
    pending_unit_.reset();
  }
  // One rank: its buffer is the whole slab, which the parameters view in place (no gather, no copy; slab.full stays
  // undefined, so release() only empties the parameters and keeps no spare).
  const bool own_buffer = group_->size() == 1;
  if (own_buffer) {
    ++gathers_;
  } else if (!pending_unit_) {
    start(unit);
  }
  SameKind kind(target.inference);
  for (size_t s = 0; s < target.slabs.size(); ++s) {
    Slab& slab = target.slabs[s];
    if (!own_buffer) slab.full = pending_[s]->wait();
    const at::Tensor& whole = own_buffer ? slab.local : slab.full;
    for (size_t i = 0; i < slab.parameters.size(); ++i) {
      UnitParameter& parameter = target.parameters[slab.parameters[i]];
      replace_data(parameter.handle, whole.narrow(0, slab.offsets[i], numel_of(parameter.shape)).view(parameter.shape));
    }
  }
  pending_.clear();
  pending_unit_.reset();
  target.materialized = true;
}

void ShardedWeights::release(size_t unit) {
  Unit& target = units_.at(unit);
  if (!target.materialized) return;
  SameKind kind(target.inference);
  for (UnitParameter& parameter : target.parameters) {
    replace_data(parameter.handle, at::empty({0}, at::TensorOptions().dtype(parameter.dtype).device(device_)));
  }
  for (Slab& slab : target.slabs) {
    // Only on the CPU: a CUDA buffer's last readers may still be queued, and the caching allocator reuses it anyway.
    // The parameters no longer view it, so nothing else holds it.
    if (slab.full.defined() && slab.full.is_cpu() && slab.size_recurs && spare_buffers_.size() < kSpareBuffers) {
      spare_buffers_.push_back(std::move(slab.full));
    }
    slab.full = at::Tensor();
  }
  target.materialized = false;
}

void ShardedWeights::before(size_t unit) {
  materialize(unit);
  if (unit + 1 < units_.size() && !units_[unit + 1].materialized && !pending_unit_) start(unit + 1);
}

void ShardedWeights::after(size_t unit) {
  release(unit);
  for (auto& exchange : pending_) exchange->progress();
}

void ShardedWeights::accompany_forward() {
  for (size_t unit = 0; unit < units_.size(); ++unit) {
    before(unit);
    after(unit);
  }
}

GatheredUnit::GatheredUnit(ShardedWeights* weights, size_t unit)
    : weights_(weights), unit_(unit), exceptions_(std::uncaught_exceptions()) {
  if (weights_ != nullptr) weights_->before(unit_);
}

GatheredUnit::~GatheredUnit() noexcept(false) {
  if (weights_ != nullptr && std::uncaught_exceptions() == exceptions_) weights_->after(unit_);
}

int64_t ShardedWeights::local_bytes() const {
  int64_t bytes = 0;
  for (const Unit& unit : units_) {
    for (const Slab& slab : unit.slabs) bytes += slab.local.nbytes();
  }
  return bytes;
}

namespace {
int64_t unit_bytes(const std::vector<UnitParameter>& parameters) {
  int64_t bytes = 0;
  for (const UnitParameter& parameter : parameters) bytes += numel_of(parameter.shape) * c10::elementSize(parameter.dtype);
  return bytes;
}
}  // namespace

int64_t ShardedWeights::total_bytes() const {
  int64_t bytes = 0;
  for (const Unit& unit : units_) bytes += unit_bytes(unit.parameters);
  return bytes;
}

int64_t ShardedWeights::parameter_count() const {
  int64_t count = 0;
  for (const Unit& unit : units_) {
    for (const UnitParameter& parameter : unit.parameters) count += numel_of(parameter.shape);
  }
  return count;
}

std::map<std::string, std::vector<int64_t>> ShardedWeights::parameter_shapes() const {
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const Unit& unit : units_) {
    for (const UnitParameter& parameter : unit.parameters) shapes.emplace(parameter.name, parameter.shape);
  }
  return shapes;
}

int64_t ShardedWeights::largest_unit_bytes() const {
  int64_t bytes = 0;
  for (const Unit& unit : units_) bytes = std::max(bytes, unit_bytes(unit.parameters));
  return bytes;
}

}  // namespace tessera
