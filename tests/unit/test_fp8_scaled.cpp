// --weights fp8-scaled: the per-output-channel quantisation (absmax / 448, a zero row's scale 1, every value
// within half an FP8 step), the reference forward against plain ATen, the FP8-matmul arithmetic (at::_scaled_mm
// takes unit scales on the CPU too, so its math is checked here; tests/gpu/test_fp8_scaled_cuda.cpp checks the
// GPU's) against an ATen emulation, the hooked layers of a loaded pipeline, and a reloaded weight quantised again.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>

#include "src/models/fp8_scaled_linear.h"
#include "src/models/fp8_scaled_storage.h"
#include "src/models/layers.h"
#include "src/models/layerwise_casting.h"
#include "src/models/model.h"
#include "src/pipelines/pipeline.h"
#include "tests/relative_error.h"
#include "tests/unit/error_message.h"

namespace tessera {
namespace {

using testing::relative_error;

const std::string kFixtures = TESSERA_TEST_FIXTURES_DIR;

// Rows of different magnitudes, one of zeros, one with a lone outlier.
at::Tensor awkward_weight(int64_t out, int64_t in) {
  at::manual_seed(out * 1000 + in);
  at::Tensor weight = at::randn({out, in}) * at::logspace(-3, 2, out).unsqueeze(1);
  weight[1].zero_();
  weight[2][in / 2] = 300.0;
  return weight;
}

TEST(Fp8Scaled, QuantizesEachRowByItsAbsmax) {
  const at::Tensor weight = awkward_weight(23, 40);
  const Fp8Quantized q = quantize_fp8_rows(weight);
  EXPECT_EQ(q.values.scalar_type(), at::kFloat8_e4m3fn);
  EXPECT_EQ(q.scale.scalar_type(), at::kFloat);
  ASSERT_EQ(q.scale.sizes(), at::IntArrayRef({23}));
  const at::Tensor values = q.values.to(at::kFloat);
  EXPECT_TRUE(at::allclose(q.scale, at::where(weight.abs().amax(1) > 0, weight.abs().amax(1) / 448.0,
                                              at::ones({23}))));
  // A row of zeros: scale 1, values 0.
  EXPECT_EQ(q.scale[1].item<float>(), 1.0f);
  EXPECT_EQ(values[1].abs().max().item<float>(), 0.0f);
  // Every other row reaches 448 at its absmax.
  for (int64_t row : {0, 2, 10, 22}) EXPECT_EQ(values[row].abs().max().item<float>(), 448.0f) << row;
  // Within half a step of e4m3fn (3 mantissa bits: 2^-4 relative; subnormals below 2^-6 step by 2^-9).
  const at::Tensor dequantized = values * q.scale.unsqueeze(1);
  const at::Tensor bound = at::maximum(weight.abs() * std::ldexp(1.0, -4), q.scale.unsqueeze(1) * std::ldexp(1.0, -10));
  EXPECT_TRUE(((dequantized - weight).abs() <= bound * (1 + 1e-5)).all().item<bool>());
  // The scale matters: without it the small rows would flush to zero or saturate.
  EXPECT_GT((values - weight).abs().max().item<double>(), 1.0);
}

TEST(Fp8Scaled, ReferenceIsDequantizeThenLinear) {
  const at::Tensor weight = awkward_weight(23, 40);
  const Fp8Quantized q = quantize_fp8_rows(weight);
  for (const c10::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    const at::Tensor x = at::randn({3, 5, 40}).to(dtype), bias = at::randn({23}).to(dtype);
    const at::Tensor plain = at::linear(x, (q.values.to(at::kFloat) * q.scale.unsqueeze(1)).to(dtype), bias);
    const at::Tensor output = fp8_scaled_linear(x, q, bias, dtype, Fp8MatmulPath::reference);
    EXPECT_EQ(output.scalar_type(), dtype);
    EXPECT_TRUE(at::equal(output, plain)) << dtype;
    // Close to the unquantised layer (each weight within 2^-4 of itself, the errors averaging over the inputs;
    // bf16 adds its own rounding), and not equal to it (the test can tell quantised from not).
    const at::Tensor full = at::linear(x.to(at::kFloat), weight, bias.to(at::kFloat));
    const double error = relative_error(output.to(at::kFloat), full);
    EXPECT_LT(error, 0.04) << dtype;
    EXPECT_GT(error, 0.0) << dtype;
  }
}

// The FP8-matmul path: the activation quantised per token, the FP8 product accumulated in fp32, both scales on
// the sums. On the CPU at::_scaled_mm runs (unit scales), so the arithmetic is checked without a GPU.
TEST(Fp8Scaled, ScaledMmArithmeticMatchesAnAtenEmulation) {
  const at::Tensor weight = awkward_weight(48, 32);
  const Fp8Quantized q = quantize_fp8_rows(weight);
  const at::Tensor x = at::randn({2, 7, 32}) * 3, bias = at::randn({48});
  const at::Tensor output = fp8_scaled_linear(x, q, bias, at::kFloat, Fp8MatmulPath::scaled_mm);
  ASSERT_EQ(output.sizes(), at::IntArrayRef({2, 7, 48}));
  const Fp8Quantized tokens = quantize_fp8_rows(x.reshape({-1, 32}));
  const at::Tensor emulated = (at::matmul(tokens.values.to(at::kDouble), q.values.to(at::kDouble).t()) *
                                   tokens.scale.to(at::kDouble).unsqueeze(1) * q.scale.to(at::kDouble).unsqueeze(0) +
                               bias.to(at::kDouble))
                                  .reshape({2, 7, 48});
  EXPECT_LT(relative_error(output, emulated), 1e-6);
  // Against the reference (the activation unquantised): within FP8's step, not equal.
  const double error = relative_error(output, fp8_scaled_linear(x, q, bias, at::kFloat, Fp8MatmulPath::reference));
  EXPECT_LT(error, 0.05);
  EXPECT_GT(error, 1e-6);
  // The CPU takes the reference; so does a width _scaled_mm cannot take.
  EXPECT_EQ(fp8_matmul_path(x, q), Fp8MatmulPath::reference);
  EXPECT_FALSE(fp8_matmul_runs_on(c10::Device(c10::kCPU)));
}

class TwoLinears : public Module {
 public:
  TwoLinears() {
    first = register_module("first", std::make_shared<Linear>(40, 24));
    proj_out = register_module("proj_out", std::make_shared<Linear>(24, 5));
  }
  std::shared_ptr<Linear> first, proj_out;

 protected:
  Outputs forward_impl(Args& args) override { return {proj_out->forward(first->forward(args.tensor("x")))}; }
};

TEST(Fp8Scaled, HookedLayerStoresFp8WithScalesAndComputesTheReference) {
  TwoLinears model;
  const at::Tensor weight = model.first->weight().clone();
  const at::Tensor bias = model.first->named_parameters()["bias"].clone();
  ASSERT_EQ(apply_fp8_scaled(model, default_layerwise_casting_skip_patterns()), 1);  // proj_out is skipped
  EXPECT_EQ(model.first->weight().scalar_type(), at::kFloat8_e4m3fn);
  EXPECT_EQ(model.first->named_parameters()["bias"].scalar_type(), at::kFloat);  // biases stay as loaded
  EXPECT_EQ(model.proj_out->weight().scalar_type(), at::kFloat);
  EXPECT_EQ(fp8_scale_bytes(model), 24 * 4);
  const at::Tensor x = at::randn({3, 40});
  at::Tensor output;
  {
    c10::InferenceMode inference;
    output = model.first->forward(x);
  }
  EXPECT_TRUE(at::equal(output, fp8_scaled_linear(x, quantize_fp8_rows(weight), bias, at::kFloat,
                                                  Fp8MatmulPath::reference)));
  EXPECT_FALSE(at::equal(output, at::linear(x, weight, bias)));
  // Weights read again in full precision (an expert reloaded) are quantised again, scales and all.
  {
    c10::InferenceMode ordinary(false);
    torch::NoGradGuard no_grad;
    model.first->named_parameters()["weight"].set_data(weight * 2);
  }
  EXPECT_EQ(store_fp8_scaled_weights(model), 1);
  EXPECT_EQ(model.first->weight().scalar_type(), at::kFloat8_e4m3fn);
  {
    c10::InferenceMode inference;
    EXPECT_TRUE(at::equal(model.first->forward(x), fp8_scaled_linear(x, quantize_fp8_rows(weight * 2), bias,
                                                                     at::kFloat, Fp8MatmulPath::reference)));
  }
  EXPECT_TRUE(has(message_of([&] { apply_fp8_scaled(model, {}); }), "quantised already"));
}

TEST(Fp8Scaled, PipelineQuantizesTheLayersLayerwiseCastingCasts) {
  for (const char* folder : {"wan_pipeline", "flux_pipeline"}) {
    const std::string dir = kFixtures + "/" + folder + "/pipeline";
    auto cast = Pipeline::load(dir, at::kFloat, c10::Device(c10::kCPU), {.weights = WeightStorage::fp8});
    auto scaled = Pipeline::load(dir, at::kFloat, c10::Device(c10::kCPU), {.weights = WeightStorage::fp8_scaled});
    std::set<std::string> cast_weights, scaled_weights;
    int64_t rows = 0;
    for (const auto& item : cast->transformer().named_parameters(true)) {
      if (item.value().scalar_type() == at::kFloat8_e4m3fn && item.value().dim() == 2) cast_weights.insert(item.key());
    }
    for (const auto& item : scaled->transformer().named_parameters(true)) {
      if (item.value().scalar_type() != at::kFloat8_e4m3fn) continue;
      scaled_weights.insert(item.key());
      rows += item.value().size(0);
    }
    EXPECT_FALSE(scaled_weights.empty()) << folder;
    EXPECT_EQ(scaled_weights, cast_weights) << folder;
    EXPECT_EQ(fp8_scale_bytes(scaled->transformer()), 4 * rows) << folder;
  }
}

class OutputOnly : public Module {
 public:
  OutputOnly() { proj_out = register_module("proj_out", std::make_shared<Linear>(8, 4)); }
  std::shared_ptr<Linear> proj_out;

 protected:
  Outputs forward_impl(Args& args) override { return {proj_out->forward(args.tensor("x"))}; }
};

TEST(Fp8Scaled, RefusesWhatItCannotQuantize) {
  TwoLinears model;
  EXPECT_TRUE(has(message_of([&] { enable_fp8_scaled(model, "ShapesTransformer"); }),
                  "(--weights fp8-scaled): tessera knows which layers of a ShapesTransformer"));
  // Wan's and FLUX's patterns skip proj_out: a model with no other linear layer has nothing to quantise.
  OutputOnly output_only;
  EXPECT_TRUE(has(message_of([&] { enable_fp8_scaled(output_only, "FluxTransformer2DModel"); }),
                  "has no linear layer to store in float8_e4m3fn (every one is skipped by its patterns); use "
                  "--weights full"));
  // A dtype FP8 cannot compute in is refused, naming --dtype.
  model.to(at::kDouble);
  EXPECT_TRUE(has(message_of([&] { apply_fp8_scaled(model, {}); }), "load with --dtype fp32, bf16 or fp16"));
}

}  // namespace
}  // namespace tessera
