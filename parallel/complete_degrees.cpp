#include "parallel/complete_degrees.h"

#include <numeric>

#include "common/check.h"

namespace tessera {
namespace {

using detail::concat;

// "1, 2, 4": the degrees that divide `ranks`, for the messages.
std::string divisors_text(int ranks) {
  std::string text;
  for (int d = 1; d <= ranks; ++d) {
    if (ranks % d == 0) text += concat(text.empty() ? "" : ", ", d);
  }
  return text;
}

// The ranks the degrees fill, as the messages name them and their fix: a whole launch, or each of a batch's --dp
// groups (whose size --dp sets).
struct Pool {
  int ranks = 1;
  int dp = 0;     // 0: the ranks are the launch's
  int world = 0;  // the launch's ranks, when dp > 0

  std::string has() const {
    return dp == 0 ? concat("the job has ", ranks, " (mpirun -np ", ranks, ")")
                   : concat("each of the --dp ", dp, " groups has ", ranks, " of the job's ", world);
  }
  // How to get `needed` ranks in the pool.
  std::string give(int needed) const {
    if (dp == 0) return concat("launch with -np ", needed);
    if (world % needed == 0) return concat("give --dp ", world / needed, " (or leave --dp out)");
    return concat("launch with -np ", needed * dp);
  }
};

// One of --ulysses / --ring given (`flag` = `degree`): the other takes the context-parallel ranks it leaves.
int fill_other(const Pool& pool, const char* flag, int degree, const char* other, int cp_ranks, int cfg) {
  TESSERA_CHECK(cp_ranks % degree == 0, "--", flag, " ", degree, cfg == 1 ? "" : " x --cfg 2", " needs a multiple of ",
                degree * cfg, " ranks (--", other, " takes the rest), but ", pool.has(), "; ", pool.give(degree * cfg),
                ", give a --", flag, " that divides ", cp_ranks, " (", divisors_text(cp_ranks), "), or leave --", flag,
                " out to let tessera choose");
  return cp_ranks / degree;
}

CompletedDegrees complete_pool(const Pool& pool, const GivenDegrees& given, const std::function<int64_t()>& heads) {
  TESSERA_INTERNAL_ASSERT(pool.ranks >= 1, "complete_degrees for ", pool.ranks, " ranks");
  for (const auto& [flag, degree] : {std::pair{"ulysses", given.ulysses}, std::pair{"ring", given.ring},
                                     std::pair{"cfg", given.cfg}}) {
    TESSERA_CHECK(!degree || *degree >= 1, "--", flag, " must be at least 1, got ", *degree);
  }
  // CFG-parallel is never chosen: it needs guidance (a scale above 1), which a batch decides job by job and a
  // pipeline's defaults only once loaded, and Ulysses and Ring already put every rank to work.
  const int cfg = given.cfg.value_or(1);
  TESSERA_CHECK(cfg == 1 || cfg == 2, "--cfg must be 1 or 2 (the conditional and unconditional branches), got ", cfg);
  TESSERA_CHECK(pool.ranks % cfg == 0, "--cfg 2 runs the two guidance branches on two halves of the ranks, but ",
                pool.has(), ", an odd number; ", pool.give(pool.ranks + 1), ", or leave --cfg out");
  const int cp_ranks = pool.ranks / cfg;

  CompletedDegrees completed;
  completed.config.cfg = cfg;
  if (given.ulysses && given.ring) {
    completed.config.ulysses = *given.ulysses;
    completed.config.ring = *given.ring;
    const int product = completed.config.world_size();
    std::string fix = "leave --ulysses and --ring out to let tessera choose";
    if (cp_ranks % *given.ulysses == 0) {
      fix = concat("leave --ring out (Ring then takes the ", cp_ranks / *given.ulysses, " rank(s) --ulysses leaves)");
    } else if (cp_ranks % *given.ring == 0) {
      fix = concat("leave --ulysses out (Ulysses then takes the ", cp_ranks / *given.ring, " rank(s) --ring leaves)");
    }
    TESSERA_CHECK(product == pool.ranks, "--ulysses ", *given.ulysses, " x --ring ", *given.ring, " x --cfg ", cfg,
                  " = ", product, " ranks, but ", pool.has(), "; ", pool.give(product), ", or ", fix);
  } else if (given.ulysses) {
    completed.config.ulysses = *given.ulysses;
    completed.config.ring = fill_other(pool, "ulysses", *given.ulysses, "ring", cp_ranks, cfg);
    completed.chosen = concat("ring: the ranks --ulysses ", *given.ulysses, cfg == 1 ? "" : " x --cfg 2", " leaves");
  } else if (given.ring) {
    completed.config.ring = *given.ring;
    completed.config.ulysses = fill_other(pool, "ring", *given.ring, "ulysses", cp_ranks, cfg);
    completed.chosen = concat("ulysses: the ranks --ring ", *given.ring, cfg == 1 ? "" : " x --cfg 2", " leaves");
  } else {
    // Ulysses moves each token once per attention where Ring passes every key and value around its group, so it
    // takes as many ranks as it can. It runs heads that do not divide its group (ranks hold different counts), but
    // then the ranks with more heads set the pace: a divisor of the heads keeps every rank equally busy, and Ring,
    // which splits the sequence evenly whatever the heads, takes the rest.
    const int64_t head_count = cp_ranks > 1 ? heads() : 1;
    TESSERA_CHECK(head_count >= 1, "the model reports ", head_count, " attention heads; give --ulysses and --ring");
    completed.config.ulysses = even_ulysses_degree(cp_ranks, head_count);
    completed.config.ring = cp_ranks / completed.config.ulysses;
    completed.chosen = given.cfg ? concat("--cfg ", cfg, " given") : std::string("no degrees given");
    if (cp_ranks > 1) {
      completed.chosen += concat(": Ulysses takes the largest share of the ", cp_ranks,
                                 " context-parallel ranks that divides the model's ", head_count, " heads, Ring the rest");
    }
  }
  validate(completed.config, pool.ranks);
  return completed;
}

}  // namespace

int even_ulysses_degree(int ranks, int64_t heads) {
  TESSERA_INTERNAL_ASSERT(ranks >= 1 && heads >= 1, "even_ulysses_degree(", ranks, ", ", heads, ")");
  // Every common divisor divides the greatest one.
  return static_cast<int>(std::gcd(static_cast<int64_t>(ranks), heads));
}

CompletedDegrees complete_degrees(int ranks, const GivenDegrees& given, const std::function<int64_t()>& heads) {
  return complete_pool(Pool{.ranks = ranks}, given, heads);
}

DataParallelDegrees complete_data_parallel(int world, std::optional<int> dp, const GivenDegrees& given,
                                           const std::function<int64_t()>& heads) {
  TESSERA_INTERNAL_ASSERT(world >= 1, "complete_data_parallel for ", world, " ranks");
  DataParallelDegrees completed;
  if (dp) {
    TESSERA_CHECK(*dp >= 1 && world % *dp == 0, "--dp ", *dp, " groups cannot share the job's ", world,
                  " ranks (mpirun -np ", world, ") evenly; give a --dp that divides ", world, " (",
                  divisors_text(world), "), or leave --dp out to make it the ranks the other degrees leave");
    completed.dp = *dp;
    completed.group = complete_pool(Pool{.ranks = world / *dp, .dp = *dp, .world = world}, given, heads);
    completed.chosen = completed.group.chosen;
    return completed;
  }
  // Data parallelism takes what the given degrees leave (one each for those left out): no two groups wait for
  // each other inside a job, so it is what a batch of many jobs runs fastest on.
  const int per_group = given.product();
  TESSERA_CHECK(per_group >= 1 && world % per_group == 0, "--ulysses ", given.ulysses.value_or(1), " x --ring ",
                given.ring.value_or(1), " x --cfg ", given.cfg.value_or(1), " = ", per_group,
                " ranks a group, but the job has ", world, " (mpirun -np ", world,
                "), not a multiple of it; launch with -np ", per_group,
                " or a multiple (--dp takes them), or give degrees whose product divides ", world);
  completed.dp = world / per_group;
  completed.group = complete_pool(Pool{.ranks = per_group, .dp = completed.dp, .world = world}, given, heads);
  completed.chosen = given.any() ? "dp: the ranks the degrees given leave"
                                 : "no degrees given: a data-parallel group per rank";
  return completed;
}

}  // namespace tessera
