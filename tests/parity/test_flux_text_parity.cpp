// FLUX's text side against transformers and diffusers on the fixtures scripts/make_fixtures.py (part "flux_text")
// builds: CLIPTextModel's last hidden state and pooled output (legacy and corrected end-token pooling),
// T5EncoderModel's last hidden state, and FluxTextEncoder against FluxPipeline.encode_prompt.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <iterator>

#include "parity_check.h"
#include "src/io/safetensors.h"
#include "src/models/clip/clip_text_model.h"
#include "src/models/flux_text/flux_text_encoder.h"
#include "src/models/umt5/umt5_encoder.h"
#include "tests/unit/error_message.h"

namespace tessera::testing {
namespace {

const std::string kFixtures = std::string(TESSERA_FIXTURES_DIR) + "/flux_text/";

at::Tensor expected(const std::string& name) {
  return io::SafetensorsFile(kFixtures + "expected.safetensors").load(name);
}

std::vector<std::string> prompts() {
  std::ifstream file(kFixtures + "case.json");
  const nlohmann::json description = nlohmann::json::parse(std::string(std::istreambuf_iterator<char>(file), {}));
  return description.at("prompts").get<std::vector<std::string>>();
}

void expect_close(const std::string& what, const at::Tensor& actual, const at::Tensor& reference,
                  double tolerance = 1e-5) {
  std::cout << "[parity] " << what << ": max abs error relative to max abs " << relative_error(actual, reference)
            << "\n";
  EXPECT_TRUE(close_relative_to_scale(actual, reference, tolerance)) << what;
}

TEST(ClipTextModelParity, LegacyEndTokenPoolingAsFlux) {
  c10::InferenceMode inference;
  const auto model = load_clip_text_model(kFixtures + "pipeline/text_encoder", at::kFloat, at::kCPU);
  ASSERT_TRUE(model->config().legacy_pooling());
  const ClipTextOutput output = model->forward(expected("clip_input_ids"));
  expect_close("CLIP legacy last_hidden_state", output.last_hidden_state,
               expected("clip_legacy_eos_last_hidden_state"));
  expect_close("CLIP legacy pooled", output.pooled, expected("clip_legacy_eos_pooled"));
}

TEST(ClipTextModelParity, FirstEndTokenPoolingAndGelu) {
  c10::InferenceMode inference;
  const auto model = load_clip_text_model(kFixtures + "clip_eos_id", at::kFloat, at::kCPU);
  ASSERT_FALSE(model->config().legacy_pooling());
  ASSERT_EQ(model->config().hidden_act, ClipActivation::kGelu);
  const ClipTextOutput output = model->forward(expected("clip_input_ids"));
  expect_close("CLIP eos_id last_hidden_state", output.last_hidden_state, expected("clip_eos_id_last_hidden_state"));
  expect_close("CLIP eos_id pooled", output.pooled, expected("clip_eos_id_pooled"));
}

TEST(ClipTextModelParity, NamesAreTransformersCheckpointNames) {
  // transformers 5 saves without "text_model."; checkpoints such as FLUX.1-dev's text_encoder/ store it.
  const ClipTextConfig config =
      load_clip_text_model(kFixtures + "pipeline/text_encoder", at::kFloat, at::kCPU)->config();
  const io::SafetensorsFile file(kFixtures + "pipeline/text_encoder/model.safetensors");
  std::vector<std::string> checkpoint_names, model_names;
  for (const auto& name : file.names()) checkpoint_names.push_back("text_model." + name);
  for (const auto& item : ClipTextModel(config, true).named_parameters()) model_names.push_back(item.key());
  std::sort(model_names.begin(), model_names.end());
  EXPECT_EQ(model_names, checkpoint_names);
  const std::string out_proj = "text_model.encoder.layers.1.self_attn.out_proj.bias";
  EXPECT_TRUE(std::find(model_names.begin(), model_names.end(), out_proj) != model_names.end());
}

TEST(T5EncoderParity, SharedPositionBiasWithAndWithoutMask) {
  c10::InferenceMode inference;
  const auto encoder = load_umt5_encoder(kFixtures + "pipeline/text_encoder_2", at::kFloat, at::kCPU);
  ASSERT_TRUE(encoder->config().shared_position_bias);
  const at::Tensor ids = expected("t5_input_ids");
  expect_close("T5 last_hidden_state", encoder->forward(ids, {}), expected("t5_last_hidden_state"));
  expect_close("T5 last_hidden_state (masked)", encoder->forward(ids, ids != 0),
               expected("t5_last_hidden_state_masked"));
}

TEST(FluxTextEncoderParity, EqualsFluxPipelineEncodePrompt) {
  for (const int64_t max_sequence_length : {512, 32}) {
    const auto encoder = FluxTextEncoder::load(kFixtures + "pipeline", at::kFloat, at::kCPU, max_sequence_length);
    EXPECT_EQ(encoder->class_name(), "CLIPTextModel");
    EXPECT_EQ(encoder->clip_max_length(), 77);
    const PromptEmbeddings embeddings = encoder->encode(prompts());
    const std::string suffix = "_" + std::to_string(max_sequence_length);
    // Over 512 positions T5's fp32 softmax sums drift further from transformers' (measured 1.1e-5 relative; 4e-7 at
    // 32): 2e-5 there, 1e-5 otherwise.
    expect_close("prompt_embeds" + suffix, embeddings.embeddings, expected("prompt_embeds" + suffix),
                  max_sequence_length > 64 ? 2e-5 : 1e-5);
    expect_close("pooled_prompt_embeds" + suffix, embeddings.pooled, expected("pooled_prompt_embeds" + suffix));
    EXPECT_EQ(embeddings.mask.scalar_type(), at::kBool);
    EXPECT_EQ(embeddings.mask.sizes(), (std::vector<int64_t>{3, max_sequence_length}));
    EXPECT_TRUE(embeddings.mask.all().item<bool>());
  }
  const auto encoder = FluxTextEncoder::load(kFixtures + "pipeline", at::kFloat, at::kCPU, 16);
  const PromptEmbeddings none = encoder->encode({});
  EXPECT_EQ(none.embeddings.sizes(), (std::vector<int64_t>{0, 16, encoder->embedding_dim()}));
  EXPECT_EQ(none.pooled.sizes(), (std::vector<int64_t>{0, encoder->pooled_dim()}));
  EXPECT_TRUE(has(message_of([&] { encoder->check_prompt("bad \xff byte"); }), "not valid UTF-8"));
}

TEST(FluxTextEncoderErrors, MismatchedPartsAreNamed) {
  FluxTextEncoderParts parts = FluxTextEncoderParts::in(kFixtures + "pipeline");
  parts.tokenizer_2 = kFixtures + "pipeline/tokenizer";
  EXPECT_TRUE(has(message_of([&] { FluxTextEncoder::load(parts, at::kFloat, at::kCPU); }), "spiece.model"));
  parts = FluxTextEncoderParts::in(kFixtures + "pipeline");
  parts.text_encoder = kFixtures + "pipeline/text_encoder_2";
  const std::string wrong_model = message_of([&] { FluxTextEncoder::load(parts, at::kFloat, at::kCPU); });
  EXPECT_TRUE(has(wrong_model, "\"model_type\" \"t5\"")) << wrong_model;
  EXPECT_TRUE(has(message_of([&] { FluxTextEncoder::load(kFixtures + "pipeline", at::kFloat, at::kCPU, 0); }),
                  "max_sequence_length must be at least 1"));
}

}  // namespace
}  // namespace tessera::testing
