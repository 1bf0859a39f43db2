// FP8 weight storage (--weights fp8) as diffusers' enable_layerwise_casting: the parameters stored in
// float8_e4m3fn are exactly those diffusers stores so (tests/fixtures/wan_pipeline_fp8/cast_parameters.json, from
// scripts/fixtures/wan_pipeline_fp8.py), in both Wan2.2 experts, again after an idle expert is read back from its
// files; a cast layer computes with its FP8-rounded weights and bias and keeps them in FP8 at rest; the
// transformer's parameter bytes shrink; a model tessera knows no patterns of, or with no layer to cast, is refused.
// FLUX likewise (tests/fixtures/flux_pipeline_fp8, scripts/fixtures/flux_pipeline_fp8.py).
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "src/io/json_file.h"
#include "src/models/layers.h"
#include "src/models/layerwise_casting.h"
#include "src/models/model.h"
#include "src/pipelines/pipeline.h"
#include "tests/unit/error_message.h"

namespace tessera {
namespace {

const std::string kFixtures = TESSERA_TEST_FIXTURES_DIR;

std::set<std::string> fp8_parameters(Model& model) {
  std::set<std::string> names;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    if (item.value().scalar_type() == at::kFloat8_e4m3fn) names.insert(item.key());
  }
  return names;
}

std::set<std::string> diffusers_cast(const std::string& key, const std::string& fixture = "wan_pipeline_fp8") {
  const auto json = io::read_json_object(kFixtures + "/" + fixture + "/cast_parameters.json");
  const auto list = json.at(key).get<std::vector<std::string>>();
  return {list.begin(), list.end()};
}

std::unique_ptr<Pipeline> load_fp8(const std::string& folder, IdleExpert idle) {
  return Pipeline::load(kFixtures + "/" + folder + "/pipeline", at::kFloat, c10::Device(c10::kCPU),
                        {.idle_expert = idle, .encodes_text = true, .weights = WeightStorage::fp8});
}

TEST(LayerwiseCasting, CastsWhatDiffusersCastsInEveryExpert) {
  auto wan = load_fp8("wan_pipeline", IdleExpert::resident);
  EXPECT_EQ(fp8_parameters(wan->transformer()), diffusers_cast("wan/transformer"));
  auto wan22 = load_fp8("wan22_pipeline", IdleExpert::resident);
  ASSERT_EQ(wan22->transformers().size(), 2u);
  for (const PipelineTransformer& transformer : wan22->transformers()) {
    EXPECT_EQ(fp8_parameters(*transformer.model), diffusers_cast("wan22/" + transformer.part)) << transformer.part;
  }
}

TEST(LayerwiseCasting, CastsWhatDiffusersCastsOnFlux) {
  auto flux = load_fp8("flux_pipeline", IdleExpert::resident);
  const std::set<std::string> expected = diffusers_cast("flux/transformer", "flux_pipeline_fp8");
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(fp8_parameters(flux->transformer()), expected);
}

TEST(LayerwiseCasting, ReloadedExpertIsStoredInFp8Again) {
  auto pipeline = load_fp8("wan22_pipeline", IdleExpert::reload);
  Model& low_noise = *pipeline->transformers().at(1).model;
  ASSERT_FALSE(pipeline->residency().on_device(low_noise));
  const_cast<ExpertResidency&>(pipeline->residency()).activate(low_noise);
  ASSERT_TRUE(pipeline->residency().on_device(low_noise));
  EXPECT_EQ(fp8_parameters(low_noise), diffusers_cast("wan22/transformer_2"));
}

TEST(LayerwiseCasting, ShrinksTheTransformersParameters) {
  auto full = Pipeline::load(kFixtures + "/wan_pipeline/pipeline", at::kFloat, c10::Device(c10::kCPU));
  auto fp8 = load_fp8("wan_pipeline", IdleExpert::resident);
  const int64_t cast_elements = [&] {
    int64_t count = 0;
    for (const auto& item : fp8->transformer().named_parameters(true)) {
      if (item.value().scalar_type() == at::kFloat8_e4m3fn) count += item.value().numel();
    }
    return count;
  }();
  ASSERT_GT(cast_elements, 0);
  // Each cast element goes from 4 bytes to 1.
  EXPECT_EQ(parameter_bytes(full->transformer()) - parameter_bytes(fp8->transformer()), 3 * cast_elements);
}

class OneLinear : public Module {
 public:
  explicit OneLinear(const std::string& name = "layer") {
    layer = register_module(name, std::make_shared<Linear>(8, 5));
  }
  std::shared_ptr<Linear> layer;

 protected:
  Outputs forward_impl(Args& args) override { return {layer->forward(args.tensor("hidden_states"))}; }
};

TEST(LayerwiseCasting, LayerComputesWithFp8RoundedWeightsAndStoresFp8) {
  OneLinear model;
  const at::Tensor weight = model.layer->named_parameters()["weight"].clone();
  const at::Tensor bias = model.layer->named_parameters()["bias"].clone();
  ASSERT_EQ(apply_layerwise_casting(model, at::kFloat8_e4m3fn, {}), 1);
  EXPECT_EQ(model.layer->weight().scalar_type(), at::kFloat8_e4m3fn);
  const at::Tensor x = at::randn({3, 8});
  const at::Tensor expected =
      at::linear(x, weight.to(at::kFloat8_e4m3fn).to(at::kFloat), bias.to(at::kFloat8_e4m3fn).to(at::kFloat));
  at::Tensor output;
  {
    c10::InferenceMode inference;
    output = model.layer->forward(x);
  }
  EXPECT_EQ(output.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(output, expected));
  // Rounding to FP8 changes these random weights: the check above can tell a cast from none.
  EXPECT_FALSE(at::equal(at::linear(x, weight, bias), expected));
  EXPECT_EQ(model.layer->weight().scalar_type(), at::kFloat8_e4m3fn);
  EXPECT_EQ(model.layer->named_parameters()["bias"].scalar_type(), at::kFloat8_e4m3fn);
  // A skip pattern that matches the layer's path leaves it as it was.
  OneLinear skipped;
  EXPECT_EQ(apply_layerwise_casting(skipped, at::kFloat8_e4m3fn, {"^lay"}), 0);
  EXPECT_EQ(skipped.layer->weight().scalar_type(), at::kFloat);
  EXPECT_TRUE(has(message_of([&] { apply_layerwise_casting(model, at::kFloat8_e4m3fn, {}); }), "cast already"));
}

TEST(LayerwiseCasting, RefusesAClassWithoutPatternsAndAModelWithNothingToCast) {
  OneLinear model;
  EXPECT_TRUE(has(message_of([&] { enable_layerwise_casting(model, "ShapesTransformer", at::kFloat8_e4m3fn); }),
                  "only for WanTransformer3DModel and FluxTransformer2DModel; use --weights full"));
  // Wan's patterns skip its output projection: a model with no other linear layer has nothing to cast.
  OneLinear output_only("proj_out");
  const auto cast = [&] { enable_layerwise_casting(output_only, "WanTransformer3DModel", at::kFloat8_e4m3fn); };
  EXPECT_TRUE(has(message_of(cast), "has no linear layer to store in"));
}

TEST(LayerwiseCasting, RefusesAComputeDtypeFp8CannotTake) {
  // A model loaded in a dtype that is no float wider than FP8 has no dtype to cast up to.
  OneLinear model;
  model.to(at::kDouble);
  EXPECT_TRUE(has(message_of([&] { apply_layerwise_casting(model, at::kFloat8_e4m3fn, {}); }),
                  "which must be fp32, bf16 or fp16: load with --dtype fp32, bf16 or fp16"));
}

}  // namespace
}  // namespace tessera
