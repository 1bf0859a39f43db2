#include "parallel/communicator.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>

#include "common/check.h"
#include "kernels/all_to_all_pack.h"
#include "parallel/exchange_records.h"
#include "parallel/shard_sizes.h"

namespace tessera {
namespace {

constexpr int64_t kShapeRecord = kShapeRecordBytes / 8;  // int64 values per shape record

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* operation) {
  TESSERA_CHECK(ndim > 0, operation, " needs a tensor with at least one dimension");
  TESSERA_CHECK(dim >= -ndim && dim < ndim, operation, ": dim ", dim, " is out of range for a tensor with ",
                ndim, " dimensions");
  return dim < 0 ? dim + ndim : dim;
}

// Elements per index of `dim` in a tensor of `shape`: the product of the other sizes.
int64_t elements_per_index(at::IntArrayRef shape, int64_t dim) {
  int64_t elements = 1;
  for (int64_t i = 0; i < static_cast<int64_t>(shape.size()); ++i) elements *= i == dim ? 1 : shape[i];
  return elements;
}

}  // namespace

std::string to_string(Backend backend) { return backend == Backend::mpi ? "mpi" : "nccl"; }

std::string to_string(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum: return "sum";
    case ReduceOp::avg: return "avg";
    case ReduceOp::max: return "max";
  }
  return "?";
}

PendingExchange::PendingExchange(ExchangeHandle handle, at::Tensor received, c10::Device result_device)
    : handle_(std::move(handle)), received_(std::move(received)), result_device_(result_device) {}

bool PendingExchange::progress() { return !waited_ && handle_.progress && handle_.progress(); }

at::Tensor PendingExchange::wait() {
  TESSERA_CHECK(!waited_, "PendingExchange::wait called twice");
  waited_ = true;
  handle_.wait();
  return received_.to(result_device_);
}

Communicator::Communicator(std::string name, std::vector<int> world_ranks, int rank)
    : name_(std::move(name)), world_ranks_(std::move(world_ranks)), rank_(rank) {
  TESSERA_INTERNAL_ASSERT(rank_ >= 0 && rank_ < size(), "rank ", rank_, " of ", size());
}

Communicator::~Communicator() = default;

std::string Communicator::describe() const { return describe_group(name_, world_ranks_); }

OperationDescription Communicator::describe_operation(const std::string& operation, const std::string& detail) const {
  return OperationDescription{operation, name_, world_ranks_, rank_, detail};
}

void Communicator::record(const std::string& operation, int64_t bytes_sent) {
  auto& entry = stats_[operation];
  ++entry.calls;
  entry.bytes_sent += bytes_sent;
}

void Communicator::check_peer(int peer, const char* operation) const {
  TESSERA_CHECK(peer >= 0 && peer < size(), operation, ": rank ", peer, " is not in ", describe(), " of size ",
                size());
}

std::vector<std::vector<int64_t>> Communicator::exchange_shapes(const at::Tensor& input) {
  TESSERA_CHECK(input.dim() <= kMaxShapeDims, "tensors with more than ", kMaxShapeDims,
                " dimensions cannot be exchanged, got ", input.dim());
  std::vector<int64_t> record_values(kShapeRecord, 0);
  record_values[0] = input.dim();
  std::copy(input.sizes().begin(), input.sizes().end(), record_values.begin() + 1);
  at::Tensor local = stage(at::tensor(record_values, at::kLong));
  at::Tensor gathered = at::empty({kShapeRecord * size()}, local.options());
  const std::vector<int64_t> counts(size(), kShapeRecord);
  all_gather_flat(local, gathered, counts, exclusive_prefix_sum(counts));
  record("all_gather_shapes", local.nbytes() * (size() - 1));
  gathered = gathered.cpu();
  const int64_t* values = gathered.data_ptr<int64_t>();
  std::vector<std::vector<int64_t>> shapes(size());
  for (int r = 0; r < size(); ++r) {
    const int64_t* entry = values + r * kShapeRecord;
    shapes[r].assign(entry + 1, entry + 1 + entry[0]);
  }
  return shapes;
}

std::vector<int64_t> Communicator::sizes_along(const at::Tensor& input, int64_t dim, const char* operation) {
  const auto shapes = exchange_shapes(input);
  std::vector<int64_t> sizes(size());
  for (int r = 0; r < size(); ++r) {
    bool compatible = shapes[r].size() == static_cast<size_t>(input.dim());
    for (int64_t i = 0; compatible && i < input.dim(); ++i) compatible = i == dim || shapes[r][i] == input.size(i);
    TESSERA_CHECK(compatible, operation, " along dim ", dim, " on ", describe(), ": rank ", r, " has shape ",
                  at::IntArrayRef(shapes[r]), " but rank ", rank_, " has ", input.sizes(),
                  "; shapes may differ only along dim ", dim);
    sizes[r] = shapes[r][dim];
  }
  return sizes;
}

at::Tensor Communicator::all_gather(const at::Tensor& input, int64_t dim) {
  const int64_t d = wrap_dim(dim, input.dim(), "all_gather");
  return all_gather(input, d, sizes_along(input, d, "all_gather"));
}

at::Tensor Communicator::all_gather(const at::Tensor& input, int64_t dim, const std::vector<int64_t>& sizes) {
  const int64_t d = wrap_dim(dim, input.dim(), "all_gather");
  TESSERA_CHECK(sizes.size() == static_cast<size_t>(size()), "all_gather: ", sizes.size(), " sizes given for ",
                size(), " ranks");
  TESSERA_CHECK(sizes[rank_] == input.size(d), "all_gather: sizes[", rank_, "] = ", sizes[rank_],
                " but the local tensor has ", input.size(d), " along dim ", d);
  // Each rank's tensor travels as it is laid out; the received blocks are joined along `dim` by the unpack of
  // Ulysses' all-to-all (a view when nothing precedes `dim`, one pass otherwise).
  const at::Tensor send = stage(input).reshape({-1});
  const int64_t row = elements_per_index(input.sizes(), d);
  std::vector<int64_t> counts(size());
  for (int r = 0; r < size(); ++r) counts[r] = sizes[r] * row;
  const auto displacements = exclusive_prefix_sum(counts);
  const int64_t total_rows = std::accumulate(sizes.begin(), sizes.end(), int64_t{0});
  at::Tensor recv = at::empty({total_rows * row}, send.options());
  all_gather_flat(send, recv, counts, displacements);
  std::vector<int64_t> gathered_shape(input.sizes().begin(), input.sizes().end());
  gathered_shape[d] = total_rows;
  record("all_gather", send.nbytes() * (size() - 1));
  return all_to_all_unpack(recv, 1, gathered_shape, d, sizes)[0].to(input.device());
}

std::vector<int64_t> Communicator::all_gather_sizes(int64_t local) {
  const at::Tensor gathered =
      all_gather(at::full({1}, local, at::kLong), 0, std::vector<int64_t>(size(), 1)).cpu();
  return std::vector<int64_t>(gathered.data_ptr<int64_t>(), gathered.data_ptr<int64_t>() + size());
}

at::Tensor Communicator::all_to_all(const at::Tensor& input, int64_t scatter_dim, int64_t gather_dim) {
  const int64_t g = wrap_dim(gather_dim, input.dim(), "all_to_all");
  return all_to_all(input, scatter_dim, g, sizes_along(input, g, "all_to_all"));
}

at::Tensor Communicator::all_to_all(const at::Tensor& input, int64_t scatter_dim, int64_t gather_dim,
                                    const std::vector<int64_t>& gather_sizes) {
  const int64_t s = wrap_dim(scatter_dim, input.dim(), "all_to_all");
  return all_to_all(input, s, gather_dim, gather_sizes, shard_sizes(input.size(s), size()));
}

at::Tensor Communicator::all_to_all(const at::Tensor& input, int64_t scatter_dim, int64_t gather_dim,
                                    const std::vector<int64_t>& gather_sizes,
                                    const std::vector<int64_t>& scatter_sizes) {
  return all_to_all_chunks({input}, scatter_dim, scatter_sizes, gather_dim, gather_sizes)[0];
}

at::Tensor Communicator::all_to_all_chunks(at::TensorList inputs, int64_t scatter_dim,
                                           const std::vector<int64_t>& scatter_sizes, int64_t gather_dim,
                                           const std::vector<int64_t>& gather_sizes) {
  TESSERA_CHECK(!inputs.empty(), "all_to_all needs at least one tensor");
  const at::Tensor& first = inputs[0];
  for (const at::Tensor& input : inputs) {
    TESSERA_CHECK(input.sizes() == first.sizes() && input.scalar_type() == first.scalar_type() &&
                      input.device() == first.device(),
                  "all_to_all exchanges tensors of one shape, dtype and device, got ", first.sizes(), " ",
                  first.scalar_type(), " on ", first.device(), " and ", input.sizes(), " ", input.scalar_type(),
                  " on ", input.device());
  }
  const int64_t s = wrap_dim(scatter_dim, first.dim(), "all_to_all");
  const int64_t g = wrap_dim(gather_dim, first.dim(), "all_to_all");
  TESSERA_CHECK(s != g, "all_to_all: scatter_dim and gather_dim must differ, both are ", s);
  TESSERA_CHECK(gather_sizes.size() == static_cast<size_t>(size()), "all_to_all: ", gather_sizes.size(),
                " gather sizes given for ", size(), " ranks");
  TESSERA_CHECK(gather_sizes[rank_] == first.size(g), "all_to_all: gather_sizes[", rank_, "] = ",
                gather_sizes[rank_], " but the local tensor has ", first.size(g), " along dim ", g);
  TESSERA_CHECK(std::all_of(gather_sizes.begin(), gather_sizes.end(), [](int64_t n) { return n >= 0; }),
                "all_to_all: gather sizes must not be negative, got ", c10::IntArrayRef(gather_sizes));
  TESSERA_CHECK(scatter_sizes.size() == static_cast<size_t>(size()) &&
                    std::all_of(scatter_sizes.begin(), scatter_sizes.end(), [](int64_t n) { return n >= 0; }) &&
                    std::accumulate(scatter_sizes.begin(), scatter_sizes.end(), int64_t{0}) == first.size(s),
                "all_to_all: scatter sizes ", c10::IntArrayRef(scatter_sizes), " do not cut the ", first.size(s),
                " along dim ", s, " into ", size(), " chunks");
  ChunkExchange exchange{.scatter_dim = s, .scatter_sizes = scatter_sizes, .gather_dim = g,
                         .gather_sizes = gather_sizes, .output_shape = first.sizes().vec()};
  exchange.output_shape[s] = scatter_sizes[rank_];
  exchange.output_shape[g] = std::accumulate(gather_sizes.begin(), gather_sizes.end(), int64_t{0});
  at::Tensor output = exchange_chunks(inputs, exchange);
  const auto count = static_cast<int64_t>(inputs.size());
  const int64_t kept = count * elements_per_index(first.sizes(), s) * scatter_sizes[rank_];
  record("all_to_all", (count * first.numel() - kept) * first.element_size());
  return output;
}

at::Tensor Communicator::exchange_chunks(at::TensorList inputs, const ChunkExchange& exchange) {
  const auto count = static_cast<int64_t>(inputs.size());
  const int64_t elements_per_scatter_row = elements_per_index(inputs[0].sizes(), exchange.scatter_dim);
  const int64_t elements_per_gather_row = elements_per_index(exchange.output_shape, exchange.gather_dim);
  std::vector<int64_t> send_counts(size()), recv_counts(size());
  for (int r = 0; r < size(); ++r) {
    send_counts[r] = count * exchange.scatter_sizes[r] * elements_per_scatter_row;
    recv_counts[r] = count * exchange.gather_sizes[r] * elements_per_gather_row;
  }
  const at::Tensor send = stage(all_to_all_pack(inputs, exchange.scatter_dim, exchange.scatter_sizes));
  at::Tensor recv = at::empty({std::accumulate(recv_counts.begin(), recv_counts.end(), int64_t{0})}, send.options());
  all_to_all_flat(send, send_counts, exclusive_prefix_sum(send_counts), recv, recv_counts,
                  exclusive_prefix_sum(recv_counts));
  return all_to_all_unpack(recv, count, exchange.output_shape, exchange.gather_dim, exchange.gather_sizes)
      .to(inputs[0].device());
}

at::Tensor Communicator::all_reduce(const at::Tensor& input, ReduceOp op) {
  const auto dtype = input.scalar_type();
  TESSERA_CHECK(op != ReduceOp::avg || at::isFloatingType(dtype),
                "all_reduce avg needs a floating-point tensor, got ", dtype, "; use sum and divide");
  // Reduced types the backend lacks (bf16/fp16 over MPI) are summed in fp32, which is also more accurate.
  const auto work_dtype = reduces_natively(dtype) ? dtype : at::kFloat;
  at::Tensor buffer = stage(input).to(work_dtype, /*non_blocking=*/false, /*copy=*/true).reshape({-1});
  all_reduce_flat(buffer, op == ReduceOp::avg ? ReduceOp::sum : op);
  if (op == ReduceOp::avg) buffer.div_(size());
  record("all_reduce", input.nbytes() * 2 * (size() - 1) / size());
  return buffer.view(input.sizes()).to(input.device(), dtype);
}

at::Tensor Communicator::broadcast(const at::Tensor& input, int root) {
  check_peer(root, "broadcast");
  at::Tensor buffer = stage(input);
  if (buffer.is_alias_of(input)) buffer = buffer.clone();
  at::Tensor flat = buffer.view({-1});
  broadcast_flat(flat, root);
  record("broadcast", rank_ == root ? input.nbytes() * (size() - 1) : 0);
  return buffer.to(input.device());
}

void Communicator::send(const at::Tensor& input, int peer) {
  check_peer(peer, "send");
  TESSERA_CHECK(peer != rank_, "send to self (rank ", peer, ") would wait forever; use exchange()");
  send_flat(stage(input).reshape({-1}), peer);
  record("send", input.nbytes());
}

void Communicator::recv(at::Tensor& output, int peer) {
  check_peer(peer, "recv");
  TESSERA_CHECK(peer != rank_, "recv from self (rank ", peer, ") would wait forever; use exchange()");
  at::Tensor buffer = stage(output);
  at::Tensor flat = buffer.view({-1});
  recv_flat(flat, peer);
  if (!buffer.is_alias_of(output)) output.copy_(buffer);
  record("recv", 0);
}

std::unique_ptr<PendingExchange> Communicator::exchange_async(const at::Tensor& input, int send_to, int recv_from) {
  check_peer(send_to, "exchange");
  check_peer(recv_from, "exchange");
  const at::Tensor send_buffer = stage(input).reshape({-1});
  at::Tensor recv_buffer = at::empty_like(send_buffer);
  ExchangeHandle handle = start_exchange_flat(send_buffer, recv_buffer, send_to, recv_from);
  record("exchange", send_to == rank_ ? 0 : input.nbytes());
  // The send buffer must outlive the transfer: the waiter keeps it.
  handle.wait = [wait = std::move(handle.wait), send_buffer] { wait(); };
  return std::make_unique<PendingExchange>(std::move(handle), recv_buffer.view(input.sizes()), input.device());
}

at::Tensor Communicator::exchange(const at::Tensor& input, int send_to, int recv_from) {
  return exchange_async(input, send_to, recv_from)->wait();
}

std::unique_ptr<PendingExchange> Communicator::all_gather_flat_async(const at::Tensor& input,
                                                                   const std::vector<int64_t>& counts,
                                                                   at::Tensor destination) {
  TESSERA_CHECK(input.dim() == 1, "all_gather_flat_async takes a 1-D tensor, got ", input.dim(), " dims");
  TESSERA_CHECK(counts.size() == static_cast<size_t>(size()), "all_gather_flat_async: ", counts.size(),
                " counts given for ", size(), " ranks");
  TESSERA_CHECK(counts[rank_] == input.numel(), "all_gather_flat_async: counts[", rank_, "] = ", counts[rank_],
                " but the local tensor has ", input.numel(), " elements");
  const at::Tensor send_buffer = stage(input).contiguous();
  const int64_t total = std::accumulate(counts.begin(), counts.end(), int64_t{0});
  const bool reusable = destination.defined() && destination.dim() == 1 && destination.numel() == total &&
                        destination.is_contiguous() && destination.options().type_equal(send_buffer.options());
  at::Tensor recv_buffer = reusable ? destination : at::empty({total}, send_buffer.options());
  ExchangeHandle handle = start_all_gather_flat(send_buffer, recv_buffer, counts, exclusive_prefix_sum(counts));
  record("all_gather", send_buffer.nbytes() * (size() - 1));
  // The send buffer must outlive the transfer: the waiter keeps it.
  handle.wait = [wait = std::move(handle.wait), send_buffer] { wait(); };
  return std::make_unique<PendingExchange>(std::move(handle), recv_buffer, input.device());
}

ExchangeHandle Communicator::start_all_gather_flat(const at::Tensor& send, at::Tensor& recv,
                                                   const std::vector<int64_t>& counts,
                                                   const std::vector<int64_t>& displacements) {
  all_gather_flat(send, recv, counts, displacements);
  return {.wait = [] {}, .progress = nullptr};
}

at::Tensor Communicator::ring_exchange(const at::Tensor& input) {
  return exchange(input, (rank_ + 1) % size(), (rank_ + size() - 1) % size());
}

void Communicator::barrier() {
  barrier_impl();
  record("barrier", 0);
}

std::shared_ptr<Communicator> Communicator::split(int color, int key, const std::string& name) {
  at::Tensor local = stage(at::tensor(std::vector<int64_t>{color, key}, at::kLong));
  at::Tensor gathered = at::empty({2 * size()}, local.options());
  const std::vector<int64_t> counts(size(), 2);
  all_gather_flat(local, gathered, counts, exclusive_prefix_sum(counts));
  gathered = gathered.cpu();
  const int64_t* values = gathered.data_ptr<int64_t>();
  std::vector<std::pair<int64_t, int>> members;  // (key, rank) of ranks sharing this color
  for (int r = 0; r < size() && color >= 0; ++r) {
    if (values[2 * r] == color) members.emplace_back(values[2 * r + 1], r);
  }
  std::sort(members.begin(), members.end());
  std::vector<int> member_world_ranks;
  int new_rank = -1;
  for (const auto& [member_key, member_rank] : members) {
    if (member_rank == rank_) new_rank = static_cast<int>(member_world_ranks.size());
    member_world_ranks.push_back(world_ranks_[member_rank]);
  }
  return split_impl(color, key, name, std::move(member_world_ranks), new_rank);
}

}  // namespace tessera
