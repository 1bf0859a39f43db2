// What a model hands the caches (hooks/cache_inputs.h) is what the caches use: TeaCache measures the model's
// declared indicator, rescales by the fit the model carries under the config's name, and refuses a name the
// model lacks. Wan's and FLUX's indicators are TeaCache's arithmetic, computed once: by the block's own code, and
// taken by its forward.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <optional>

#include "cache/enable_cache.h"
#include "hooks/cache_inputs.h"
#include "hooks/hook_registry.h"
#include "src/models/flux/flux_transformer.h"
#include "src/tiny/tiny_dit.h"
#include "src/models/wan/wan_transformer.h"
#include "tests/relative_error.h"
#include "tests/unit/error_message.h"

using tessera::testing::relative_error;

namespace tessera {
namespace {

// A tiny model whose indicator is its input squared and whose fits are plain factors, so the metric TeaCache
// records says which indicator and which fit it used.
class DeclaringTinyModel : public TinyDiTModel, public DeclaresCacheInputs {
 public:
  explicit DeclaringTinyModel(TinyDiTConfig config) : TinyDiTModel(config) {}
  at::Tensor modulated_input(Module& /*first_block*/, Args& args) const override {
    return args.tensor("hidden_states").square();
  }
  std::vector<TeaCacheFit> teacache_fits() const override {
    return {{.name = "doubled", .indicator = TeaCacheIndicator::modulated_input, .coefficients = {2.0, 0.0}},
            {.name = kModelTeaCacheFit, .indicator = TeaCacheIndicator::modulated_input, .coefficients = {3.0, 0.0}}};
  }
};

double relative_l1(const at::Tensor& now, const at::Tensor& before) {
  return ((now - before).abs().sum() / before.abs().sum()).item<double>();
}

// Records block 0's input each call: what the indicator is computed from.
class InputRecorder : public ModelHook {
 public:
  void pre_forward(Module&, Args& args) override { inputs.push_back(args.tensor("hidden_states")); }
  std::vector<at::Tensor> inputs;
};

struct SecondStep {
  double metric;         // what TeaCache recorded at step 1, after the steps x and 1.1 x
  at::Tensor before, now;  // block 0's inputs at steps 0 and 1
};

SecondStep second_step(HookableModel& model, const TeaCacheConfig& config, const at::Tensor& x) {
  enable_cache(model, config);
  auto recorder = std::make_shared<InputRecorder>();
  HookRegistry::get_or_create(model.at("blocks.0")).register_hook("recorder", recorder);
  model({{"hidden_states", x}});
  model({{"hidden_states", x * 1.1}});
  const double metric = cache_records(model).back().metric;
  HookRegistry::get_or_create(model.at("blocks.0")).remove_hook("recorder");
  disable_cache(model);
  return {.metric = metric, .before = recorder->inputs.at(0), .now = recorder->inputs.at(1)};
}

TEST(CacheInputs, TeaCacheMeasuresTheDeclaredIndicatorWithTheNamedFit) {
  c10::InferenceMode inference;
  at::manual_seed(0);
  TinyDiTConfig tiny;
  tiny.num_layers = 2;
  DeclaringTinyModel model(tiny);
  const at::Tensor x = at::randn({1, 8, 4});
  TeaCacheConfig config{.threshold = 1e9, .warmup_steps = 1, .indicator = TeaCacheIndicator::modulated_input};
  config.coefficients = std::string("doubled");
  SecondStep run = second_step(model, config, x);
  const double squared = relative_l1(run.now.square(), run.before.square());
  EXPECT_NEAR(run.metric, 2 * squared, 1e-6);
  config.coefficients = TeaCacheConfig{}.coefficients;  // the model's own
  EXPECT_NEAR(second_step(model, config, x).metric, 3 * squared, 1e-6);
  config.coefficients = std::vector<double>{};
  EXPECT_NEAR(second_step(model, config, x).metric, squared, 1e-6);
  // A model that declares nothing is indicated by the block's input, and its own fit is none.
  TinyDiTModel plain(tiny);
  config.coefficients = TeaCacheConfig{}.coefficients;
  run = second_step(plain, config, x);
  EXPECT_NEAR(run.metric, relative_l1(run.now, run.before), 1e-6);
  // A name the model does not carry (for this indicator) is refused, naming what it carries.
  config.coefficients = std::string("flux");
  std::string message = message_of([&] { enable_cache(model, config); });
  EXPECT_TRUE(has(message, "carries no TeaCache fit \"flux\" for the modulated_input indicator (it carries: "
                           "doubled (modulated_input), default (modulated_input))"))
      << message;
  config.coefficients = std::string("doubled");
  config.indicator = TeaCacheIndicator::timestep_embedding;
  message = message_of([&] { enable_cache(model, config); });
  EXPECT_TRUE(has(message, "carries no TeaCache fit \"doubled\" for the timestep_embedding indicator")) << message;
}

WanConfig small_wan() {
  return {.num_attention_heads = 2, .attention_head_dim = 8, .in_channels = 4, .out_channels = 4, .text_dim = 16,
          .freq_dim = 16, .ffn_dim = 32, .num_layers = 2};
}

FluxConfig small_flux() {
  return {.in_channels = 8, .out_channels = 8, .num_layers = 1, .num_single_layers = 1, .attention_head_dim = 16,
          .num_attention_heads = 2, .joint_attention_dim = 16, .pooled_projection_dim = 8,
          .axes_dims_rope = {4, 6, 6}};
}

// The resolved coefficients enable_cache handed the hooks.
std::vector<double> resolved_coefficients(HookableModel& model, const TeaCacheConfig& config) {
  enable_cache(model, config);
  const auto resolved = std::get<TeaCacheConfig>(cache_session(model)->config()).coefficients;
  disable_cache(model);
  return std::get<std::vector<double>>(resolved);
}

TEST(CacheInputs, ModelsCarryTheReferenceFits) {
  c10::InferenceMode inference;
  WanTransformer3DModel wan(small_wan());
  // TeaCache4Wan2.1's fit (T2V-1.3B, use_ret_steps) on the timestep embedding is Wan's own.
  EXPECT_EQ(resolved_coefficients(wan, TeaCacheConfig{}),
            (std::vector<double>{-5.21862437e+04, 9.23041404e+03, -5.28275948e+02, 1.36987616e+01, -4.99875664e-02}));
  EXPECT_TRUE(resolved_coefficients(wan, {.indicator = TeaCacheIndicator::modulated_input}).empty());
  const std::string message = message_of([&] { enable_cache(wan, TeaCacheConfig{.coefficients = std::string("flux")}); });
  EXPECT_TRUE(has(message, "WanTransformer3DModel carries no TeaCache fit \"flux\"")) << message;

  FluxTransformer2DModel flux(small_flux());
  // TeaCache4FLUX's fit on the modulated input, by the name --cache teacache:coefficients=flux gives.
  const TeaCacheConfig flux_fit{.coefficients = std::string("flux"), .indicator = TeaCacheIndicator::modulated_input};
  EXPECT_EQ(resolved_coefficients(flux, flux_fit),
            (std::vector<double>{4.98651651e+02, -2.83781631e+02, 5.58554382e+01, -3.82021401e+00, 2.64230861e-01}));
  EXPECT_TRUE(resolved_coefficients(flux, TeaCacheConfig{}).empty());
}

// TeaCache's arithmetic as cache/teacache.cpp had it, by parameter name: the models' indicators must stay it
// (up to the rounding of the forward's fused kernel).
at::Tensor reference_wan_indicator(Module& block, const at::Tensor& hidden_states, const at::Tensor& temb) {
  const auto parameters = block.named_parameters(true);
  const at::Tensor& table = *parameters.find("scale_shift_table");
  const bool per_token = temb.dim() == 4;
  const at::Tensor modulation = (per_token ? table.unsqueeze(0) : table) + temb.to(at::kFloat);
  at::Tensor shift = modulation.select(-2, 0), scale = modulation.select(-2, 1);
  if (!per_token) {
    shift = shift.unsqueeze(1);
    scale = scale.unsqueeze(1);
  }
  return at::layer_norm(hidden_states.to(at::kFloat), {hidden_states.size(-1)}, {}, {}, 1e-6) * (1 + scale) + shift;
}

at::Tensor reference_flux_indicator(Module& block, const at::Tensor& hidden_states, const at::Tensor& temb) {
  const auto parameters = block.named_parameters(true);
  const auto modulation =
      at::linear(at::silu(temb), *parameters.find("norm1.linear.weight"), *parameters.find("norm1.linear.bias"))
          .chunk(6, 1);
  return at::layer_norm(hidden_states, {hidden_states.size(-1)}, std::nullopt, std::nullopt, 1e-6) *
             (1 + modulation[1].unsqueeze(1)) +
         modulation[0].unsqueeze(1);
}

// The indicator `model` computes for `block` called with `args` is what the block's forward takes: left in the
// arguments, it gives the forward's own bits, and a different one changes the forward's output.
at::Tensor expect_computed_once(const DeclaresCacheInputs& model, Module& block, const Args& args, const char* key) {
  Args given = args;
  const at::Tensor indicator = model.modulated_input(block, given);
  const at::Tensor* left = given.get_if<at::Tensor>(key);
  EXPECT_TRUE(left != nullptr && at::equal(*left, indicator));
  const Outputs alone = block(args), reused = block(given);
  for (size_t i = 0; i < alone.size(); ++i) EXPECT_TRUE(at::equal(alone[i], reused.at(i))) << "output " << i;
  Args wrong = given;
  wrong.set(key, indicator + 1);
  EXPECT_FALSE(at::equal(block(wrong).back(), alone.back()));
  return indicator;
}

TEST(CacheInputs, ModelIndicatorsAreTeaCachesArithmeticComputedOnce) {
  c10::InferenceMode inference;
  at::manual_seed(1);
  WanTransformer3DModel wan(small_wan());
  Module& wan_block = wan.at("blocks.0");
  const at::Tensor x = at::randn({2, 5, 16});
  const at::Tensor wan_text = at::randn({2, 3, 16});
  const at::Tensor wan_cos = at::randn({1, 5, 1, 8}), wan_sin = at::randn({1, 5, 1, 8});
  for (const at::Tensor& temb : {at::randn({2, 6, 16}), at::randn({2, 5, 6, 16})}) {
    const at::Tensor indicator = expect_computed_once(
        wan, wan_block,
        {{"hidden_states", x}, {"encoder_hidden_states", wan_text}, {"temb", temb}, {"freqs_cos", wan_cos},
         {"freqs_sin", wan_sin}},
        WanTransformerBlock::kAttentionInput);
    // The forward's fused kernel: the same arithmetic, rounded its own way.
    EXPECT_LT(relative_error(indicator, reference_wan_indicator(wan_block, x, temb)), 1e-6) << temb.sizes();
    EXPECT_FALSE(at::equal(indicator, x));
  }
  Args no_temb{{"hidden_states", x}};
  EXPECT_TRUE(at::equal(wan.modulated_input(wan_block, no_temb), x));  // no temb: the input

  FluxTransformer2DModel flux(small_flux());
  Module& double_block = flux.at("transformer_blocks.0");
  const at::Tensor image = at::randn({2, 5, 32});
  const at::Tensor temb = at::randn({2, 32});
  const Args flux_args{{"hidden_states", image},       {"encoder_hidden_states", at::randn({2, 3, 32})},
                       {"temb", temb},                 {"freqs_cos", at::randn({8, 16})},
                       {"freqs_sin", at::randn({8, 16})}};
  const at::Tensor indicator =
      expect_computed_once(flux, double_block, flux_args, FluxTransformerBlock::kAttentionInput);
  EXPECT_LT(relative_error(indicator, reference_flux_indicator(double_block, image, temb)), 1e-6);
  // A single-stream block has no norm1: its input.
  Args single{{"hidden_states", image}, {"temb", temb}};
  EXPECT_TRUE(at::equal(flux.modulated_input(flux.at("single_transformer_blocks.0"), single), image));
}

}  // namespace
}  // namespace tessera
