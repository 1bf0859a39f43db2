// DBCache on the tiny model (single rank): the --cache keys and cache-dit's defaults, which blocks run when
// (Fn always, the middle on the decision, Bn always), cache-dit's warm-up, limits and threshold ends, that a
// reused middle with an unchanged input gives the computed output, TaylorSeer's forecasts from step 4, and the
// refusal of an fn + bn that leaves no middle. (Parity with cache-dit itself: tests/parity/test_dbcache_parity.cpp.)
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>

#include "cache/cache_spec.h"
#include "cache/enable_cache.h"
#include "tests/parity/parity_check.h"
#include "tests/unit/error_message.h"
#include "tests/unit/tiny_model_cache_test.h"

namespace tessera {
namespace {

using tessera::testing::close_relative_to_scale;

TEST(DBCacheSpec, KeysReachTheirFieldsAndDefaultsAreCacheDits) {
  const auto defaults = std::get<DBCacheConfig>(parse_cache_spec("dbcache"));
  EXPECT_EQ(defaults.fn_compute_blocks, 8);
  EXPECT_EQ(defaults.bn_compute_blocks, 0);
  EXPECT_DOUBLE_EQ(defaults.residual_diff_threshold, 0.08);
  EXPECT_EQ(defaults.max_warmup_steps, 8);
  EXPECT_EQ(defaults.warmup_interval, 1);
  EXPECT_EQ(defaults.max_cached_steps, -1);
  EXPECT_EQ(defaults.max_continuous_cached_steps, -1);
  EXPECT_EQ(defaults.taylorseer_order, 0);
  const auto db = std::get<DBCacheConfig>(parse_cache_spec(
      "db_cache:fn=2,bn=1,threshold=0.12,warmup=3,warmup_interval=2,max_cached=5,max_continuous=2,taylorseer_order=1,"
      "blocks=blocks.*"));
  EXPECT_EQ(db.fn_compute_blocks, 2);
  EXPECT_EQ(db.bn_compute_blocks, 1);
  EXPECT_DOUBLE_EQ(db.residual_diff_threshold, 0.12);
  EXPECT_EQ(db.max_warmup_steps, 3);
  EXPECT_EQ(db.warmup_interval, 2);
  EXPECT_EQ(db.max_cached_steps, 5);
  EXPECT_EQ(db.max_continuous_cached_steps, 2);
  EXPECT_EQ(db.taylorseer_order, 1);
  EXPECT_EQ(db.blocks, "blocks.*");
  std::string message = message_of([] { parse_cache_spec("dbcache:Fn=1"); });
  EXPECT_TRUE(has(message, "unknown key \"Fn\"; known keys: blocks, bn, fn, max_cached, max_continuous, "
                           "taylorseer_order, threshold, warmup, warmup_interval"))
      << message;
  message = message_of([] { parse_cache_spec("dbcache:fn=0"); });
  EXPECT_TRUE(has(message, "fn must be >= 1")) << message;
  message = message_of([] { parse_cache_spec("dbcache:taylorseer_order=-1"); });
  EXPECT_TRUE(has(message, "taylorseer_order must be >= 0")) << message;
}

class DBCacheOnTinyModel : public TinyModelCacheTest {
 protected:
  DBCacheOnTinyModel() : TinyModelCacheTest(4) {}
  // Per step, one letter per block: C computed, S skipped, F forecast.
  std::string steps(int count, const DBCacheConfig& config) {
    enable_cache(*model_, config);
    for (int step = 0; step < count; ++step) run(input_);
    std::string letters;
    int64_t last = 0;
    for (const CacheRecord& record : cache_records(*model_)) {
      if (record.step != last) letters += "|";
      last = record.step;
      letters += "CSF"[static_cast<int>(record.action)];
    }
    disable_cache(*model_);
    return letters;
  }
};

TEST_F(DBCacheOnTinyModel, WarmupAndLimitsDecideAsCacheDit) {
  // A threshold >= 1 reuses without measuring: after the two warm-up steps the limits alone decide. Two in a row
  // at most, three in all.
  DBCacheConfig config{.fn_compute_blocks = 1, .bn_compute_blocks = 1, .residual_diff_threshold = 1e9,
                       .max_warmup_steps = 2, .max_cached_steps = 3, .max_continuous_cached_steps = 2};
  EXPECT_EQ(steps(8, config), "CCCC|CCCC|CSSC|CSSC|CCCC|CSSC|CCCC|CCCC");
  // warmup_interval 2: only steps 0 and 2 of the warm-up compute for certain.
  config = DBCacheConfig{.fn_compute_blocks = 2, .residual_diff_threshold = 1e9, .max_warmup_steps = 4,
                         .warmup_interval = 2};
  EXPECT_EQ(steps(5, config), "CCCC|CCSS|CCCC|CCSS|CCSS");
  // A threshold <= 0 never reuses, even an unchanged step (cache-dit; FBC would).
  config = DBCacheConfig{.fn_compute_blocks = 1, .residual_diff_threshold = 0, .max_warmup_steps = 0};
  EXPECT_EQ(steps(3, config), "CCCC|CCCC|CCCC");
  // Below the threshold reuses: unchanged steps measure 0.
  config = DBCacheConfig{.fn_compute_blocks = 1, .residual_diff_threshold = 0.05, .max_warmup_steps = 1};
  EXPECT_EQ(steps(3, config), "CCCC|CSSS|CSSS");
}

TEST_F(DBCacheOnTinyModel, ReusedMiddleOfAnUnchangedStepGivesTheComputedOutput) {
  const at::Tensor expected = run(input_);
  enable_cache(*model_, DBCacheConfig{.fn_compute_blocks = 1, .bn_compute_blocks = 1, .residual_diff_threshold = 0.5,
                                      .max_warmup_steps = 1});
  run(input_);
  const at::Tensor reused = run(input_);
  EXPECT_EQ(cache_records(*model_)[4 + 1].action, BlockAction::skipped);  // step 1, block 1
  EXPECT_TRUE(close_relative_to_scale(reused, expected, 1e-6));
  // A large change computes the middle again, and the step is the uncached model's.
  const at::Tensor far = input_ * 3 + 1;
  const at::Tensor changed = run(far);
  EXPECT_EQ(cache_records(*model_)[2 * 4 + 1].action, BlockAction::computed);  // step 2, block 1
  EXPECT_GT(cache_records(*model_).back().metric, 0.5);
  disable_cache(*model_);
  EXPECT_TRUE(at::equal(changed, run(far)));
}

TEST_F(DBCacheOnTinyModel, TaylorSeerForecastsOnceDifferencesExist) {
  // Steps 0-3 compute (warm-up); step 3 takes the first difference, so from step 4 the middle is forecast (F), not
  // reused as it was (S). Without TaylorSeer the same steps reuse.
  const DBCacheConfig plain{.fn_compute_blocks = 1, .residual_diff_threshold = 1e9, .max_warmup_steps = 4};
  DBCacheConfig taylor = plain;
  taylor.taylorseer_order = 2;
  EXPECT_EQ(steps(6, plain), "CCCC|CCCC|CCCC|CCCC|CSSS|CSSS");
  EXPECT_EQ(steps(6, taylor), "CCCC|CCCC|CCCC|CCCC|CFFF|CFFF");
  // With the warm-up over at step 1 the only computed steps are 0 and 1, before step 3: plain reuse throughout.
  taylor.max_warmup_steps = 2;
  EXPECT_EQ(steps(4, taylor), "CCCC|CCCC|CSSS|CSSS");
}

TEST_F(DBCacheOnTinyModel, RefusesAnFnAndBnThatLeaveNoMiddle) {
  const std::string message = message_of(
      [&] { enable_cache(*model_, DBCacheConfig{.fn_compute_blocks = 3, .bn_compute_blocks = 1}); });
  EXPECT_TRUE(has(message, "dbcache: fn (3) + bn (1) leave no middle block to cache among the 4 blocks")) << message;
}

}  // namespace
}  // namespace tessera
