#pragma once
// A gtest fixture for caches on the tiny model (single rank): a seeded TinyDiTModel of `layers` blocks, an input
// [1, 8, 4] and one forward, under inference mode.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <memory>

#include "src/tiny/tiny_dit.h"

namespace tessera {

class TinyModelCacheTest : public ::testing::Test {
 protected:
  explicit TinyModelCacheTest(int64_t layers) {
    at::manual_seed(0);
    TinyDiTConfig config;
    config.num_layers = layers;
    model_ = std::make_shared<TinyDiTModel>(config);
    input_ = at::randn({1, 8, 4});
  }
  at::Tensor run(const at::Tensor& x) { return (*model_)({{"hidden_states", x}}).at(0); }

  c10::InferenceMode inference_;
  std::shared_ptr<TinyDiTModel> model_;
  at::Tensor input_;
};

}  // namespace tessera
