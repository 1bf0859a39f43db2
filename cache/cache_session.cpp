#include "cache/cache_session.h"

#include <ATen/ATen.h>

#include <limits>
#include <variant>

#include "cache/collective_decision.h"
#include "common/check.h"
#include "kernels/l1_sums.h"
#include "parallel/communicator.h"

namespace tessera {

const char* to_string(BlockAction action) {
  switch (action) {
    case BlockAction::computed: return "computed";
    case BlockAction::skipped: return "skipped";
    case BlockAction::forecast: return "forecast";
  }
  return "?";
}

std::string cache_method_name(const CacheConfig& config) {
  static const char* const names[] = {"first_block_cache", "teacache", "taylorseer", "pyramid_attention_broadcast",
                                      "faster_cache",      "magcache", "seacache", "dbcache"};
  return names[config.index()];
}

CacheSession::CacheSession(CacheConfig config, std::vector<std::string> block_names, GroupSource cp_group)
    : config_(std::move(config)),
      block_names_(std::move(block_names)),
      cp_group_(std::move(cp_group)),
      states_([config = config_, blocks = block_names_.size()] { return fresh_cache_state(config, blocks); }) {
  states_.set_context("default");
}

double CacheSession::relative_l1(const at::Tensor& current, const at::Tensor& previous, bool locally_comparable) {
  // Sums, not means: with uneven shards a mean of local means would weigh ranks wrongly, and the sum ratio
  // equals the single-rank value. Double accumulation keeps the decision stable across world sizes.
  const bool comparable = locally_comparable && current.sizes() == previous.sizes();
  // {sum |a - b|, sum |b|, "not comparable here"}: one pass over the activations, no fp64 copies.
  at::Tensor sums = comparable ? at::cat({l1_sums(current, previous), at::zeros({1}, at::kDouble)})
                               : at::tensor({0.0, 0.0, 1.0}, at::kDouble);
  const std::shared_ptr<Communicator> group = cp_group();
  if (group != nullptr && group->size() > 1) sums = group->all_reduce(sums, ReduceOp::sum).cpu();
  if (sums[2].item<double>() > 0) return std::numeric_limits<double>::quiet_NaN();
  const double diff = sums[0].item<double>(), base = sums[1].item<double>();
  if (base == 0) return diff == 0 ? 0.0 : std::numeric_limits<double>::infinity();
  return diff / base;
}

bool CacheSession::reuse_on_every_rank(bool reuse_here) {
  return tessera::reuse_on_every_rank(cp_group().get(), reuse_here);
}

double CacheSession::current_timestep(const std::function<double()>& callback, const char* method) const {
  if (callback) return callback();
  TESSERA_CHECK(timestep_.has_value(), method, " needs the current timestep: set the config's ",
                "current_timestep_callback, or call set_cache_timestep(model, t) before each step");
  return *timestep_;
}

void CacheSession::record(int64_t block, BlockAction action, double metric) {
  const int64_t step = std::visit([](const StepState& state) { return state.step; }, states_.get_state());
  records_.push_back({states_.context(), step, block, action, metric});
}

void CacheSession::reset() {
  const std::string context = states_.context();
  states_.reset();
  // Keep the selected branch: reset starts a new generation, it does not unselect the branch.
  if (!context.empty()) states_.set_context(context);
  records_.clear();
}

}  // namespace tessera
