// LoRA files and their fusing (src/models/lora): the fused weight against a plain ATen computation in fp64, the
// original Wan keys mapped to diffusers' modules, and every mismatch refused before a weight changes.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "src/io/safetensors.h"
#include "src/models/lora/lora_file.h"
#include "src/models/lora/lora_fuse.h"
#include "src/models/lora/lora_spec.h"
#include "tests/relative_error.h"
#include "tests/unit/error_message.h"
#include "tests/unit/scratch_dir.h"

namespace tessera {
namespace {

using lora::LoraFormat;
using lora::ScaledLora;
using testing::relative_error;
using testing::ScratchDir;
using Tensors = std::vector<std::pair<std::string, at::Tensor>>;

// A module tree with linear weights at diffusers' paths: "blocks.0.attn1.to_q" [8, 6] and "blocks.0.ffn.net.2"
// [6, 10], and a 1-D "blocks.0.norm.weight".
struct TinyModel {
  std::shared_ptr<torch::nn::Module> root = std::make_shared<torch::nn::Module>();
  at::Tensor to_q, ffn_out, norm;

  explicit TinyModel(at::ScalarType dtype) {
    auto blocks = root->register_module("blocks", std::make_shared<torch::nn::Module>());
    auto block = blocks->register_module("0", std::make_shared<torch::nn::Module>());
    auto attn = block->register_module("attn1", std::make_shared<torch::nn::Module>());
    auto q = attn->register_module("to_q", std::make_shared<torch::nn::Module>());
    auto ffn = block->register_module("ffn", std::make_shared<torch::nn::Module>());
    auto net = ffn->register_module("net", std::make_shared<torch::nn::Module>());
    auto out = net->register_module("2", std::make_shared<torch::nn::Module>());
    auto norm_module = block->register_module("norm", std::make_shared<torch::nn::Module>());
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(5);
    to_q = q->register_parameter("weight", at::randn({8, 6}, generator).to(dtype), /*requires_grad=*/false);
    ffn_out = out->register_parameter("weight", at::randn({6, 10}, generator).to(dtype), false);
    norm = norm_module->register_parameter("weight", at::ones({6}).to(dtype), false);
  }
};

at::Tensor random(std::vector<int64_t> sizes, uint64_t seed) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn(sizes, generator);
}

class LoraTest : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const Tensors& tensors,
                    const std::map<std::string, std::string>& metadata = {}) {
    const std::string path = dir_.file(name);
    io::save_safetensors(path, tensors, metadata);
    return path;
  }

  ScratchDir dir_{"tessera_lora"};
};

TEST_F(LoraTest, FusedWeightsEqualPlainAtenUpdate) {
  // Two LoRAs, one with alphas (8 at rank 4: factor 2), one without, both on to_q; scales 0.7 and -1.5.
  const at::Tensor a1 = random({4, 6}, 1), b1 = random({8, 4}, 2), a2 = random({4, 10}, 3), b2 = random({6, 4}, 4);
  const at::Tensor a3 = random({2, 6}, 5), b3 = random({8, 2}, 6);
  const std::string with_alpha = write("alpha.safetensors", {{"transformer.blocks.0.attn1.to_q.lora_A.weight", a1},
                                                             {"transformer.blocks.0.attn1.to_q.lora_B.weight", b1},
                                                             {"transformer.blocks.0.attn1.to_q.alpha", at::scalar_tensor(8.0)},
                                                             {"transformer.blocks.0.ffn.net.2.lora_A.weight", a2},
                                                             {"transformer.blocks.0.ffn.net.2.lora_B.weight", b2},
                                                             {"transformer.blocks.0.ffn.net.2.alpha", at::scalar_tensor(2.0)}});
  const std::string plain = write("plain.safetensors", {{"transformer.blocks.0.attn1.to_q.lora_A.weight", a3},
                                                        {"transformer.blocks.0.attn1.to_q.lora_B.weight", b3}});
  for (const at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    TinyModel model(dtype);
    const at::Tensor q = model.to_q.to(at::kDouble), out = model.ffn_out.to(at::kDouble);
    const at::Tensor expected_q = (q + 0.7 * 2.0 * b1.to(at::kDouble).matmul(a1.to(at::kDouble)) -
                                   1.5 * b3.to(at::kDouble).matmul(a3.to(at::kDouble)))
                                      .to(dtype);
    const at::Tensor expected_out = (out + 0.7 * 0.5 * b2.to(at::kDouble).matmul(a2.to(at::kDouble))).to(dtype);
    lora::fuse_loras(*model.root, lora::read_loras({{with_alpha, 0.7}, {plain, -1.5}}), "TinyModel");
    EXPECT_EQ(model.to_q.scalar_type(), dtype);
    // fp32: the fp32 sum's rounding; bf16: one rounding of the weight to bf16 (at most half its 2^-8 step, of
    // values up to a few times the largest).
    const double bound = dtype == at::kFloat ? 1e-6 : 8e-3;
    EXPECT_LT(relative_error(model.to_q, expected_q), bound) << dtype;
    EXPECT_LT(relative_error(model.ffn_out, expected_out), bound) << dtype;
    EXPECT_TRUE(model.norm.equal(at::ones({6}).to(dtype)));
  }
}

TEST_F(LoraTest, SavedWeightsPutBackExactly) {
  // A batch's per-job LoRAs: the bf16 weights come back bit for bit, where subtracting the update would not.
  TinyModel model(at::kBFloat16);
  const at::Tensor before = model.to_q.clone();
  const std::string path = write("one.safetensors", {{"transformer.blocks.0.attn1.to_q.lora_A.weight", random({4, 6}, 1)},
                                                     {"transformer.blocks.0.attn1.to_q.lora_B.weight", random({8, 4}, 2)}});
  lora::SavedWeights saved;
  lora::fuse_loras(*model.root, lora::read_loras({{path, 0.9}}), "TinyModel", &saved);
  EXPECT_FALSE(model.to_q.equal(before));
  ASSERT_EQ(saved.size(), 1u);
  EXPECT_EQ(saved.begin()->first, "blocks.0.attn1.to_q.weight");
  lora::restore_weights(*model.root, saved);
  EXPECT_TRUE(model.to_q.equal(before));
  EXPECT_TRUE(saved.empty());
}

TEST_F(LoraTest, MetadataAlphaScalesEveryModule) {
  const at::Tensor a = random({4, 6}, 1), b = random({8, 4}, 2);
  const std::string path = write("meta.safetensors", {{"transformer.blocks.0.attn1.to_q.lora_A.weight", a},
                                                      {"transformer.blocks.0.attn1.to_q.lora_B.weight", b}},
                                 {{"lora_adapter_metadata", R"({"transformer.r": 4, "transformer.lora_alpha": 2})"}});
  const lora::LoraFile file = lora::read_lora_file(path);
  ASSERT_EQ(file.layers.size(), 1u);
  EXPECT_DOUBLE_EQ(file.layers[0].factor, 0.5);
}

TEST_F(LoraTest, OriginalWanKeysMapToDiffusersModules) {
  Tensors tensors;
  auto pair = [&](const std::string& module, int64_t rank, bool alpha) {
    tensors.emplace_back("diffusion_model." + module + ".lora_down.weight", random({rank, 3}, 1));
    tensors.emplace_back("diffusion_model." + module + ".lora_up.weight", random({5, rank}, 2));
    if (alpha) tensors.emplace_back("diffusion_model." + module + ".alpha", at::scalar_tensor(16.0));
  };
  pair("blocks.0.self_attn.q", 4, true);
  pair("blocks.0.self_attn.o", 4, false);
  pair("blocks.12.cross_attn.v_img", 8, true);
  pair("blocks.1.ffn.0", 4, false);
  pair("blocks.1.ffn.2", 2, true);
  pair("head.head", 4, false);
  pair("time_projection.1", 4, false);
  pair("text_embedding.2", 4, false);
  const lora::LoraFile file = lora::read_lora_file(write("wan.safetensors", tensors));
  EXPECT_EQ(file.format, LoraFormat::wan_original);
  std::map<std::string, double> factors;
  for (const auto& layer : file.layers) factors[layer.module] = layer.factor;
  const std::map<std::string, double> expected = {{"blocks.0.attn1.to_q", 4.0},
                                                  {"blocks.0.attn1.to_out.0", 1.0},
                                                  {"blocks.12.attn2.add_v_proj", 2.0},
                                                  {"blocks.1.ffn.net.0.proj", 1.0},
                                                  {"blocks.1.ffn.net.2", 8.0},
                                                  {"proj_out", 1.0},
                                                  {"condition_embedder.time_proj", 1.0},
                                                  {"condition_embedder.text_embedder.linear_2", 1.0}};
  EXPECT_EQ(factors, expected);
}

TEST_F(LoraTest, UnknownKeysAreListed) {
  const std::string path = write("odd.safetensors", {{"transformer.blocks.0.attn1.to_q.lora_A.weight", random({4, 6}, 1)},
                                                     {"transformer.blocks.0.attn1.to_q.lora_B.weight", random({8, 4}, 2)},
                                                     {"transformer.blocks.0.attn1.to_q.lora_B.bias", random({8}, 3)},
                                                     {"text_encoder.layers.0.q.lora_A.weight", random({4, 6}, 4)}});
  const std::string message = message_of([&] { lora::read_lora_file(path); });
  EXPECT_TRUE(has(message, "2 key(s) tessera cannot place")) << message;
  EXPECT_TRUE(has(message, "transformer.blocks.0.attn1.to_q.lora_B.bias")) << message;
  EXPECT_TRUE(has(message, "text_encoder.layers.0.q.lora_A.weight")) << message;

  const std::string wan = write("wan_odd.safetensors", {{"diffusion_model.blocks.0.self_attn.q.diff_b", random({8}, 1)},
                                                        {"diffusion_model.blocks.0.norm3.weight", random({8}, 2)}});
  const std::string wan_message = message_of([&] { lora::read_lora_file(wan); });
  EXPECT_TRUE(has(wan_message, "original Wan")) << wan_message;
  EXPECT_TRUE(has(wan_message, "diffusion_model.blocks.0.self_attn.q.diff_b")) << wan_message;
}

TEST_F(LoraTest, HalvesAlphasAndShapesAreChecked) {
  const std::string unpaired = write("unpaired.safetensors", {{"transformer.blocks.0.attn1.to_q.lora_A.weight", random({4, 6}, 1)}});
  EXPECT_TRUE(has(message_of([&] { lora::read_lora_file(unpaired); }),
                  "1 module(s) lack their lora_A or lora_B half: transformer.blocks.0.attn1.to_q.lora_A.weight"));
  const std::string ranks = write("ranks.safetensors", {{"transformer.proj.lora_A.weight", random({4, 6}, 1)},
                                                        {"transformer.proj.lora_B.weight", random({8, 3}, 2)}});
  EXPECT_TRUE(has(message_of([&] { lora::read_lora_file(ranks); }), "not a rank-r pair"));
  const std::string some_alphas = write("some.safetensors", {{"transformer.a.lora_A.weight", random({4, 6}, 1)},
                                                             {"transformer.a.lora_B.weight", random({8, 4}, 2)},
                                                             {"transformer.a.alpha", at::scalar_tensor(4.0)},
                                                             {"transformer.b.lora_A.weight", random({4, 6}, 1)},
                                                             {"transformer.b.lora_B.weight", random({8, 4}, 2)}});
  EXPECT_TRUE(has(message_of([&] { lora::read_lora_file(some_alphas); }), "1 module(s) have an alpha but 1 do not (b)"));
}

TEST_F(LoraTest, MismatchesAreRefusedBeforeAnyWeightChanges) {
  TinyModel model(at::kFloat);
  const at::Tensor before_q = model.to_q.clone(), before_out = model.ffn_out.clone();
  // A good file first, then one that matches in part, with one module of the wrong shape: nothing is fused.
  const std::string good = write("good.safetensors", {{"transformer.blocks.0.attn1.to_q.lora_A.weight", random({4, 6}, 1)},
                                                      {"transformer.blocks.0.attn1.to_q.lora_B.weight", random({8, 4}, 2)}});
  const std::string bad = write("bad.safetensors", {{"transformer.blocks.0.attn1.to_q.lora_A.weight", random({4, 6}, 1)},
                                                    {"transformer.blocks.0.attn1.to_q.lora_B.weight", random({8, 4}, 2)},
                                                    {"transformer.blocks.0.ffn.net.2.lora_A.weight", random({4, 6}, 3)},
                                                    {"transformer.blocks.0.ffn.net.2.lora_B.weight", random({6, 4}, 4)},
                                                    {"transformer.blocks.9.attn1.to_q.lora_A.weight", random({4, 6}, 5)},
                                                    {"transformer.blocks.9.attn1.to_q.lora_B.weight", random({8, 4}, 6)},
                                                    {"transformer.blocks.0.norm.lora_A.weight", random({4, 6}, 7)},
                                                    {"transformer.blocks.0.norm.lora_B.weight", random({6, 4}, 8)}});
  const std::string message = message_of([&] { lora::fuse_loras(*model.root, lora::read_loras({{good, 1.0}, {bad, 1.0}}), "TinyModel"); });
  EXPECT_TRUE(has(message, "nothing was applied")) << message;
  EXPECT_TRUE(has(message, "2 of its 4 module(s) match no linear layer of the TinyModel")) << message;
  EXPECT_TRUE(has(message, "blocks.0.norm (transformer.blocks.0.norm.lora_A.weight)")) << message;
  EXPECT_TRUE(has(message, "blocks.9.attn1.to_q (transformer.blocks.9.attn1.to_q.lora_A.weight)")) << message;
  EXPECT_TRUE(has(message, "blocks.0.ffn.net.2: lora_B [6, 4] @ lora_A [4, 6] is [6, 6] but the weight is [6, 10]"))
      << message;
  EXPECT_FALSE(has(message, "good.safetensors")) << message;
  EXPECT_TRUE(model.to_q.equal(before_q));
  EXPECT_TRUE(model.ffn_out.equal(before_out));

  const std::string none = write("none.safetensors", {{"transformer.encoder.q.lora_A.weight", random({4, 6}, 1)},
                                                      {"transformer.encoder.q.lora_B.weight", random({8, 4}, 2)}});
  const std::string none_message = message_of([&] { lora::fuse_loras(*model.root, lora::read_loras({{none, 1.0}}), "TinyModel"); });
  EXPECT_TRUE(has(none_message, "none of its 1 module(s) match a linear layer of the TinyModel: encoder.q")) << none_message;
}

TEST_F(LoraTest, KohyaFusedProjectionsSplitOverTheirTargets) {
  // A single block's linear1 feeds to_q, to_k, to_v and proj_mlp (rows 4, 4, 4, 8 here; 3072 x 3 and 12288 in
  // FLUX.1): its update's rows go to each in turn. linear2 is proj_out alone. No alpha: factor 1 (kohya's default
  // alpha is the rank).
  auto root = std::make_shared<torch::nn::Module>();
  auto blocks = root->register_module("single_transformer_blocks", std::make_shared<torch::nn::Module>());
  auto block = blocks->register_module("3", std::make_shared<torch::nn::Module>());
  auto attn = block->register_module("attn", std::make_shared<torch::nn::Module>());
  std::map<std::string, at::Tensor> weights;
  auto linear = [&](const std::shared_ptr<torch::nn::Module>& parent, const std::string& name, int64_t rows,
                    int64_t columns, const std::string& path) {
    auto module = parent->register_module(name, std::make_shared<torch::nn::Module>());
    weights[path] = module->register_parameter("weight", random({rows, columns}, rows + columns), false);
  };
  linear(attn, "to_q", 4, 6, "q");
  linear(attn, "to_k", 4, 6, "k");
  linear(attn, "to_v", 4, 6, "v");
  linear(block, "proj_mlp", 8, 6, "mlp");
  linear(block, "proj_out", 6, 14, "out");
  std::map<std::string, at::Tensor> before;
  for (const auto& [name, weight] : weights) before[name] = weight.to(at::kDouble);
  const at::Tensor down1 = random({3, 6}, 1), up1 = random({20, 3}, 2), down2 = random({3, 14}, 3), up2 = random({6, 3}, 4);
  const std::string path = write("kohya.safetensors", {{"lora_unet_single_blocks_3_linear1.lora_down.weight", down1},
                                                       {"lora_unet_single_blocks_3_linear1.lora_up.weight", up1},
                                                       {"lora_unet_single_blocks_3_linear2.lora_down.weight", down2},
                                                       {"lora_unet_single_blocks_3_linear2.lora_up.weight", up2},
                                                       {"lora_unet_single_blocks_3_linear2.alpha", at::scalar_tensor(6.0)}});
  const lora::LoraFile file = lora::read_lora_file(path);
  EXPECT_EQ(file.format, LoraFormat::kohya_flux);
  lora::fuse_loras(*root, lora::read_loras({{path, 0.5}}), "TinyFlux");
  const at::Tensor update1 = 0.5 * up1.to(at::kDouble).matmul(down1.to(at::kDouble));
  const std::map<std::string, std::pair<int64_t, int64_t>> rows = {{"q", {0, 4}}, {"k", {4, 8}}, {"v", {8, 12}},
                                                                   {"mlp", {12, 20}}};
  for (const auto& [name, range] : rows) {
    EXPECT_LT(relative_error(weights[name], (before[name] + update1.slice(0, range.first, range.second)).to(at::kFloat)),
              1e-6)
        << name;
  }
  EXPECT_LT(relative_error(weights["out"],
                           (before["out"] + 0.5 * 2.0 * up2.to(at::kDouble).matmul(down2.to(at::kDouble))).to(at::kFloat)),
            1e-6);

  // Rows that do not add up to the targets' are refused, naming every target's shape.
  const std::string short_rows = write("short.safetensors", {{"lora_unet_single_blocks_3_linear1.lora_down.weight", down1},
                                                             {"lora_unet_single_blocks_3_linear1.lora_up.weight", random({18, 3}, 5)}});
  const std::string message = message_of([&] { lora::fuse_loras(*root, lora::read_loras({{short_rows, 1.0}}), "TinyFlux"); });
  EXPECT_TRUE(has(message, "is [18, 6] but the weights are [4, 6] + [4, 6] + [4, 6] + [8, 6]")) << message;
  // Outside the blocks' linear layers kohya's names are refused, not guessed.
  const std::string outside = write("outside.safetensors", {{"lora_unet_final_layer_linear.lora_down.weight", down1},
                                                            {"lora_unet_final_layer_linear.lora_up.weight", up2}});
  EXPECT_TRUE(has(message_of([&] { lora::read_lora_file(outside); }), "lora_unet_final_layer_linear.lora_down.weight"));
}

TEST(LoraSpec, PathAndScale) {
  EXPECT_EQ(lora::parse_lora_spec("a.safetensors").path, "a.safetensors");
  EXPECT_EQ(lora::parse_lora_spec("a.safetensors").scale, 1.0);
  EXPECT_EQ(lora::parse_lora_spec("dir/a.safetensors:0.5").path, "dir/a.safetensors");
  EXPECT_EQ(lora::parse_lora_spec("dir/a.safetensors:-1.25").scale, -1.25);
  // A ':' whose tail is no number belongs to the path; an explicit scale still comes off the end.
  EXPECT_EQ(lora::parse_lora_spec("C:/x:y.safetensors").path, "C:/x:y.safetensors");
  EXPECT_EQ(lora::parse_lora_spec("x:1/a.safetensors:2").path, "x:1/a.safetensors");
  EXPECT_TRUE(has(message_of([] { lora::parse_lora_spec("a.safetensors:inf"); }), "must be a finite number"));
  EXPECT_TRUE(has(message_of([] { lora::parse_lora_spec(":0.5"); }), "give the LoRA file"));
}

}  // namespace
}  // namespace tessera
