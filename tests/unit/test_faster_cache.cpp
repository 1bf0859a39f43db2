// FasterCache on one rank: the frequency split against a direct transcription of the paper's recipe (shift
// over every dimension, meshgrid disc), which modules it hooks, the attention extrapolation, the rebuilt
// unconditional branch, refusals, and disable_cache restoring the model.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include "cache/cache_hook.h"
#include "cache/enable_cache.h"
#include "cache/frequency_split.h"
#include "hooks/hook_registry.h"
#include "src/io/safetensors.h"
#include "src/models/load_model.h"
#include "src/tiny/tiny_dit.h"
#include "tests/parity/parity_check.h"
#include "tests/unit/error_message.h"

namespace tessera {
namespace {

using tessera::testing::close_relative_to_scale;

std::string actions(Model& model, int64_t step) {
  std::string letters;
  for (const CacheRecord& record : cache_records(model)) {
    if (record.step == step) letters += "CSF"[static_cast<int>(record.action)];
  }
  return letters;
}

// The low-frequency mask as the FasterCache reference builds it: a disc of radius min(H, W) / 5 around
// (W / 2, H / 2) in the fully shifted spectrum.
at::Tensor reference_low_mask(int64_t height, int64_t width) {
  const int64_t radius = std::min(height, width) / 5;
  const auto grids = at::meshgrid({at::arange(height), at::arange(width)}, "ij");
  return (grids[1] - width / 2).pow(2) + (grids[0] - height / 2).pow(2) <= radius * radius;
}

TEST(FrequencySplit, MatchesTheReferenceRecipeOnAwkwardShapes) {
  c10::InferenceMode inference;
  at::manual_seed(0);
  for (const auto& shape : std::vector<std::vector<int64_t>>{{3, 2, 6, 10}, {1, 1, 5, 5}, {2, 3, 11, 7}, {1, 2, 4, 4}}) {
    const at::Tensor frames = at::randn(shape);
    const FrequencyParts parts = split_frequency(frames);
    // The reference shifts every dimension (batch and channels too); undo that shift on the first two to compare.
    const at::Tensor shifted_all = at::fft_fftshift(at::fft_fft2(frames));
    const at::Tensor mask = reference_low_mask(shape[2], shape[3]);
    const at::Tensor low = at::fft_ifftshift(shifted_all * mask, at::IntArrayRef{0, 1});
    const at::Tensor high = at::fft_ifftshift(shifted_all * mask.logical_not(), at::IntArrayRef{0, 1});
    EXPECT_TRUE(close_relative_to_scale(parts.low, low)) << shape;
    EXPECT_TRUE(close_relative_to_scale(parts.high, high)) << shape;
    EXPECT_TRUE(close_relative_to_scale(frames_from_spectrum(parts.low + parts.high), frames)) << shape;
    EXPECT_TRUE(at::equal(parts.low + parts.high, shifted_spectrum(frames))) << shape;
    // Radius min(H, W) / 5: just the centre below 10, a plus-shaped disc of 5 at radius 1.
    const int64_t radius = std::min(shape[2], shape[3]) / 5;
    EXPECT_EQ((parts.low[0][0] != 0).sum().item<int64_t>(), radius == 0 ? 1 : (radius == 1 ? 5 : 13)) << shape;
  }
}

TEST(FrequencySplit, FramesRoundTripInEveryFormat) {
  c10::InferenceMode inference;
  const at::Tensor video = at::randn({2, 3, 4, 5, 6});  // B C F H W
  const at::Tensor frames = to_frames(video, "BCFHW");
  EXPECT_EQ(frames.sizes(), (std::vector<int64_t>{8, 3, 5, 6}));
  EXPECT_TRUE(at::equal(frames[5], video[1].select(1, 1)));  // batch 1, frame 1
  EXPECT_TRUE(at::equal(from_frames(frames, "BCFHW", 2), video));
  EXPECT_TRUE(at::equal(from_frames(to_frames(video, "BFCHW"), "BFCHW", 2), video));
  const at::Tensor image = at::randn({2, 3, 5, 6});
  EXPECT_TRUE(at::equal(from_frames(to_frames(image, "BCHW"), "BCHW", 2), image));
  const std::string message = message_of([&] { to_frames(image, "BCFHW"); });
  EXPECT_TRUE(has(message, "tensor_format BCFHW needs a 5-D output, got [2, 3, 5, 6]")) << message;
}

FasterCacheConfig at_timestep(double timestep) {
  FasterCacheConfig config;
  config.current_timestep_callback = [timestep] { return timestep; };
  return config;
}

// Records what one module was called with and what it returned.
class CallRecorder : public ModelHook {
 public:
  void pre_forward(Module&, Args& args) override { inputs.push_back(args); }
  void post_forward(Module&, Outputs& outputs) override { outputs_seen.push_back(outputs.at(0)); }
  std::vector<Args> inputs;
  std::vector<at::Tensor> outputs_seen;
};

TEST(FasterCacheAttention, ExtrapolatesFromTheLastTwoOutputsBetweenComputedCalls) {
  c10::InferenceMode inference;
  at::manual_seed(0);
  TinyDiTConfig tiny;
  tiny.num_layers = 2;
  TinyDiTModel model(tiny);
  FasterCacheConfig config = at_timestep(500);
  config.is_guidance_distilled = true;  // no CFG batch: the attention may skip at any batch size
  config.spatial_attention_block_skip_range = 3;
  config.attention_weight_callback = [](const std::string&) { return 0.3; };
  EXPECT_EQ(faster_cache_targets(model, config).size(), 2u);
  enable_cache(model, config);
  auto recorder = std::make_shared<CallRecorder>();
  Module& attention = model.at("blocks.0.attn1");
  HookRegistry::get_or_create(attention).register_hook("recorder", recorder);
  std::string pattern;
  for (int step = 0; step < 6; ++step) {
    model({{"hidden_states", at::randn({1, 8, 4})}});
    pattern += actions(model, step) + " ";
  }
  // Call 0 computes (nothing cached), then every 3rd call; the others extrapolate.
  EXPECT_EQ(pattern, "CC SS SS CC SS SS ");
  const auto& y = recorder->outputs_seen;
  const auto exact = [&](int call) { return attention.original_forward(recorder->inputs[call]).at(0); };
  EXPECT_TRUE(at::equal(y[0], exact(0)));
  EXPECT_TRUE(at::equal(y[1], y[0]));  // both cached outputs are call 0's: no trend yet
  EXPECT_TRUE(close_relative_to_scale(y[2], y[1] + (y[1] - y[0]) * 0.3));
  EXPECT_TRUE(at::equal(y[3], exact(3)));
  EXPECT_TRUE(close_relative_to_scale(y[4], y[3] + (y[3] - y[2]) * 0.3));
  EXPECT_FALSE(close_relative_to_scale(y[4], exact(4), 1e-4)) << "an extrapolated call differs from computing it";
  HookRegistry::get_or_create(attention).remove_hook("recorder");
  disable_cache(model);
}

// CFG reuse on a Wan fixture: the model gets [uncond, cond] and FasterCache runs the conditional half alone
// where it may, rebuilding the unconditional half in frequency space.
class FasterCacheOnWan : public ::testing::Test {
 protected:
  FasterCacheOnWan() {
    const std::string dir = std::string(TESSERA_TEST_FIXTURES_DIR) + "/wan/odd_tokens";
    model_ = load_model(dir, at::kFloat, c10::Device(c10::kCPU));
    const io::SafetensorsFile inputs(dir + "/inputs.safetensors");
    x_ = inputs.load("hidden_states");  // [1, 4, 3, 6, 10]
    t_ = inputs.load("timestep");
    text_ = inputs.load("encoder_hidden_states");
    at::manual_seed(1);
    negative_text_ = at::randn_like(text_);
  }
  at::Tensor run(const at::Tensor& x, const at::Tensor& text, const at::Tensor& t) {
    return (*model_)({{"hidden_states", x}, {"timestep", t}, {"encoder_hidden_states", text}}).at(0);
  }
  // One step of a CFG batch: [uncond, cond] on x.
  at::Tensor run_cfg(const at::Tensor& x) {
    return run(at::cat({x, x}), at::cat({negative_text_, text_}), at::cat({t_, t_}));
  }

  c10::InferenceMode inference_;
  std::shared_ptr<Model> model_;
  at::Tensor x_, t_, text_, negative_text_;
};

TEST_F(FasterCacheOnWan, HooksSelfAttentionOnlyAndFollowsTheIdentifiers) {
  FasterCacheConfig config;
  std::vector<std::string> paths;
  for (const auto& target : faster_cache_targets(*model_, config)) paths.push_back(target.path);
  // "^blocks.*attn" also matches attn2, which is cross-attention and is left alone (as diffusers).
  EXPECT_EQ(paths, (std::vector<std::string>{"blocks.0.attn1", "blocks.1.attn1"}));
  config.spatial_attention_block_identifiers = {"blocks\\.1\\."};
  EXPECT_EQ(faster_cache_targets(*model_, config).size(), 1u);
  config.spatial_attention_block_skip_range = 0;  // None: spatial is not hooked
  EXPECT_TRUE(faster_cache_targets(*model_, config).empty());
}

TEST_F(FasterCacheOnWan, RebuildsTheUnconditionalBranchFromTheConditionalOne) {
  FasterCacheConfig config = at_timestep(200);  // inside both frequency update ranges: both deltas scale
  config.spatial_attention_block_skip_range = 0;  // the CFG part alone, so the conditional half is exact
  config.unconditional_batch_skip_range = 3;
  config.alpha_low_frequency = 1.2;
  config.alpha_high_frequency = 0.9;
  enable_cache(*model_, config);
  const at::Tensor x1 = x_ + 0.1 * at::randn_like(x_);
  const at::Tensor full0 = run_cfg(x_);
  const at::Tensor full1 = run_cfg(x1);
  const at::Tensor full2 = run_cfg(x1);
  const at::Tensor full3 = run_cfg(x_);
  EXPECT_EQ(actions(*model_, 0) + actions(*model_, 1) + actions(*model_, 2) + actions(*model_, 3), "CSSC");
  disable_cache(*model_);
  EXPECT_TRUE(at::equal(full0, run_cfg(x_))) << "a computed step is the uncached model";
  EXPECT_TRUE(close_relative_to_scale(full3, run_cfg(x_), 1e-6));
  const at::Tensor cond1 = run(x1, text_, t_);
  EXPECT_TRUE(close_relative_to_scale(full1[1], cond1[0])) << "the conditional half runs alone";
  // The reference recipe: per frame, the shifted spectrum difference uncond - cond of step 0, split into the
  // disc and the rest, each scaled by its alpha at every reuse, added to the new conditional spectrum.
  const auto spectrum = [](const at::Tensor& video) {
    return at::fft_fftshift(at::fft_fft2(video.unsqueeze(0).transpose(1, 2).flatten(0, 1)));
  };
  const at::Tensor mask = reference_low_mask(x_.size(3), x_.size(4));
  const at::Tensor delta = spectrum(full0[0]) - spectrum(full0[1]);
  at::Tensor low_delta = delta * mask, high_delta = delta * mask.logical_not();
  for (const auto& [step_output, full] : {std::pair{full1[1], full1}, std::pair{full2[1], full2}}) {
    low_delta = low_delta * 1.2;
    high_delta = high_delta * 0.9;
    const at::Tensor rebuilt =
        at::real(at::fft_ifft2(at::fft_ifftshift(low_delta + high_delta + spectrum(step_output))));
    EXPECT_TRUE(close_relative_to_scale(full[0], rebuilt.unflatten(0, {1, -1}).transpose(1, 2)[0], 1e-4));
  }
  // With weights 1 and the same input twice, the rebuilt uncond output is the one measured, and attn1's
  // extrapolation (from two equal outputs) is the output it would compute.
  config = at_timestep(500);
  config.alpha_low_frequency = config.alpha_high_frequency = 1.0;
  enable_cache(*model_, config);
  run_cfg(x_);
  const at::Tensor again = run_cfg(x_);
  EXPECT_EQ(actions(*model_, 1), "SSS");
  EXPECT_TRUE(close_relative_to_scale(again, full0, 1e-4));
  disable_cache(*model_);
}

TEST_F(FasterCacheOnWan, AttentionSkipsOnlyWhileTheConditionalHalfRunsAlone) {
  FasterCacheConfig config = at_timestep(500);
  config.unconditional_batch_skip_range = 2;  // steps 0, 2, 4 run the whole batch
  config.spatial_attention_block_skip_range = 5;
  enable_cache(*model_, config);
  std::string pattern;
  for (int step = 0; step < 5; ++step) {
    run_cfg(x_);
    pattern += actions(*model_, step) + " ";
  }
  // attn1 of blocks 0 and 1, then the unconditional branch.
  EXPECT_EQ(pattern, "CCC SSS CCC SSS CCC ");
  disable_cache(*model_);
}

TEST_F(FasterCacheOnWan, RefusesWhatItCannotDo) {
  FasterCacheConfig config = at_timestep(500);
  enable_cache(*model_, config);
  run_cfg(x_);
  std::string message = message_of([&] { run(x_, text_, t_); });  // batch 1: not a CFG batch
  EXPECT_TRUE(has(message, "faster_cache expects the model to run the CFG batch [uncond, cond]")) << message;
  disable_cache(*model_);
  config.tensor_format = "BHWC";
  message = message_of([&] { enable_cache(*model_, config); });
  EXPECT_TRUE(has(message, "tensor_format must be one of BCFHW, BFCHW, BCHW, got \"BHWC\"")) << message;
  config = at_timestep(500);
  config.spatial_attention_block_identifiers = {"blocks.(attn"};
  message = message_of([&] { enable_cache(*model_, config); });
  EXPECT_TRUE(has(message, "block identifier \"blocks.(attn\" is not a valid regex")) << message;
  config = at_timestep(500);
  config.unconditional_batch_timestep_skip_range = {641, -1};
  message = message_of([&] { enable_cache(*model_, config); });
  EXPECT_TRUE(has(message, "unconditional_batch_timestep_skip_range needs lo < hi, got (641, -1)")) << message;
  config = at_timestep(500);
  config.is_guidance_distilled = true;
  config.spatial_attention_block_skip_range = 0;
  message = message_of([&] { enable_cache(*model_, config); });
  EXPECT_TRUE(has(message, "nothing to cache")) << message;
  config = FasterCacheConfig{};
  enable_cache(*model_, config);
  message = message_of([&] { run_cfg(x_); });
  EXPECT_TRUE(has(message, "faster_cache needs the current timestep")) << message;
  disable_cache(*model_);
}

TEST_F(FasterCacheOnWan, DisableRestoresTheUncachedModelExactly) {
  const at::Tensor expected = run_cfg(x_);
  enable_cache(*model_, at_timestep(500));
  for (int step = 0; step < 3; ++step) run_cfg(x_ * (1 + 0.01 * step));
  EXPECT_TRUE(has(cache_stats(*model_), "faster_cache, 3 blocks")) << cache_stats(*model_);
  EXPECT_EQ(cache_session(*model_)->block_names(),
            (std::vector<std::string>{"blocks.0.attn1", "blocks.1.attn1", "unconditional branch"}));
  disable_cache(*model_);
  EXPECT_FALSE(cache_enabled(*model_));
  EXPECT_TRUE(at::equal(run_cfg(x_), expected));
}

}  // namespace
}  // namespace tessera
