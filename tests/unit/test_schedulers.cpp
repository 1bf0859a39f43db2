// Schedulers against diffusers. Each folder under tests/fixtures/schedulers/ holds a scheduler_config.json
// written by diffusers and expected.json with what its set_timesteps and step produced
// (scripts/fixtures/schedulers.py); here the same config is loaded, the same steps replayed, and the
// results compared. Then the errors: unknown classes, unimplemented options, misuse.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "tests/unit/error_message.h"
#include "common/check.h"
#include "src/schedulers/flow_match_euler_discrete.h"
#include "src/schedulers/scheduler_config.h"
#include "src/schedulers/unipc_multistep.h"
#include "tests/relative_error.h"

using tessera::testing::relative_error;

namespace tessera {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Every bound is relative to the values' scale: ATen's AVX-512, AVX2 and baseline kernels round differently, and
// an absolute bound fails on one of them where the values are large (UniPC's epsilon sigmas reach 157).
constexpr double kTolerance = 1e-6;

fs::path fixtures_dir() { return fs::path(TESSERA_TEST_FIXTURES_DIR) / "schedulers"; }

json read_json(const fs::path& path) {
  std::ifstream stream(path);
  EXPECT_TRUE(stream.good()) << "cannot open " << path;
  return json::parse(stream);
}

std::vector<std::string> fixture_cases() {
  std::vector<std::string> names;
  if (!fs::is_directory(fixtures_dir())) return names;
  for (const auto& entry : fs::directory_iterator(fixtures_dir())) {
    if (fs::is_regular_file(entry.path() / "expected.json")) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The fixture's float32 values (stored in their shortest decimal spelling) as a tensor of `shape`.
at::Tensor float32_values(const json& values, at::IntArrayRef shape) {
  return at::tensor(values.get<std::vector<double>>(), at::kDouble).to(at::kFloat).reshape(shape);
}

// scripts/fixtures/schedulers.py's fake_model_output, with the same float32 ops.
at::Tensor fake_model_output(const at::Tensor& sample, int64_t step_index) {
  return 0.5 * sample + std::sin(static_cast<double>(step_index + 1));
}

void set_timesteps_as_fixture(Scheduler& scheduler, const json& arguments) {
  std::optional<double> mu;
  if (arguments.contains("mu")) mu = arguments["mu"].get<double>();
  if (arguments.contains("sigmas")) {
    scheduler.set_timesteps(arguments["sigmas"].get<std::vector<double>>(), mu);
  } else {
    scheduler.set_timesteps(arguments["num_inference_steps"].get<int>(), mu);
  }
}

class SchedulerParity : public ::testing::TestWithParam<std::string> {};

TEST_P(SchedulerParity, MatchesDiffusers) {
  const fs::path case_dir = fixtures_dir() / GetParam();
  const json expected = read_json(case_dir / "expected.json");
  std::unique_ptr<Scheduler> scheduler = load_scheduler((case_dir / "scheduler_config.json").string());
  set_timesteps_as_fixture(*scheduler, expected["set_timesteps"]);

  // Schedules: the same length and dtype as diffusers', and the same values.
  const at::Tensor timesteps = scheduler->timesteps();
  const at::Tensor sigmas = scheduler->sigmas();
  const auto expected_timesteps = expected["timesteps"].get<std::vector<double>>();
  const auto expected_sigmas = expected["sigmas"].get<std::vector<double>>();
  ASSERT_EQ(timesteps.numel(), static_cast<int64_t>(expected_timesteps.size()));
  ASSERT_EQ(sigmas.numel(), static_cast<int64_t>(expected_sigmas.size()));
  EXPECT_EQ(timesteps.scalar_type(), scheduler->class_name() == "UniPCMultistepScheduler" ? at::kLong : at::kFloat);
  EXPECT_EQ(sigmas.scalar_type(), at::kFloat);
  const int64_t steps = timesteps.numel();
  const double timestep_error =
      relative_error(timesteps, at::tensor(expected_timesteps, at::kDouble).to(timesteps.scalar_type()));
  const double sigma_error = relative_error(sigmas, float32_values(expected["sigmas"], {-1}));
  EXPECT_LE(timestep_error, kTolerance) << "timesteps " << timesteps;
  EXPECT_LE(sigma_error, kTolerance) << "sigmas " << sigmas;

  // The forward (noising) process at the fixture's fourth timestep.
  const auto shape = expected["sample_shape"].get<std::vector<int64_t>>();
  const at::Tensor initial = float32_values(expected["sample"], shape);
  const at::Tensor noise = float32_values(expected["noise"], shape);
  const at::Tensor noise_timestep = timesteps.slice(0, 3, 4);
  double noise_error = 0;
  if (expected.contains("scale_noise")) {
    noise_error = relative_error(scheduler->scale_noise(initial, noise_timestep, noise),
                                 float32_values(expected["scale_noise"], shape));
  } else {
    noise_error = relative_error(scheduler->add_noise(initial, noise, noise_timestep),
                                 float32_values(expected["add_noise"], shape));
  }
  EXPECT_LE(noise_error, kTolerance);

  // The whole trajectory, each step fed the fake model output diffusers was fed.
  set_timesteps_as_fixture(*scheduler, expected["set_timesteps"]);
  const json& trajectory = expected["trajectory"];
  ASSERT_EQ(static_cast<int64_t>(trajectory.size()), steps);
  at::Tensor sample = initial;
  double trajectory_error = 0;
  for (int64_t i = 0; i < steps; ++i) {
    const double timestep = timesteps[i].item<double>();
    sample = scheduler->step(fake_model_output(sample, i), timestep, sample);
    const double error = relative_error(sample, float32_values(trajectory[i], shape));
    EXPECT_LE(error, kTolerance) << "step " << i << " (timestep " << timestep << ")";
    trajectory_error = std::max(trajectory_error, error);
  }
  std::cout << "[ parity   ] " << GetParam() << ": timesteps " << timestep_error << ", sigmas " << sigma_error
            << ", noising " << noise_error << ", trajectory " << trajectory_error << " (max relative)\n";
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SchedulerParity, ::testing::ValuesIn(fixture_cases()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(SchedulerFixtures, CoverBothSchedulersAndWansConfig) {
  const std::vector<std::string> cases = fixture_cases();
  ASSERT_GE(cases.size(), 20u) << "run scripts/make_fixtures.py --only schedulers";
  for (const char* required : {"flow_match_default", "flow_match_dynamic_mu", "unipc_wan_shift3", "unipc_wan_order3_bh1",
                               "unipc_epsilon_default"}) {
    EXPECT_NE(std::find(cases.begin(), cases.end(), required), cases.end()) << required;
  }
}

std::string message_of_config(const json& config) {
  return message_of([&] { make_scheduler(config, "scheduler_config.json"); });
}

// A config holding only its class name takes diffusers' defaults: the same schedules as the fixtures
// that diffusers built from its own defaults.
TEST(SchedulerConfig, DefaultsEqualDiffusersDefaults) {
  for (const auto& [class_name, fixture] : {std::pair<std::string, std::string>{"FlowMatchEulerDiscreteScheduler",
                                                                                "flow_match_default"},
                                            {"UniPCMultistepScheduler", "unipc_epsilon_default"}}) {
    const json expected = read_json(fixtures_dir() / fixture / "expected.json");
    auto scheduler = make_scheduler(json{{"_class_name", class_name}}, "defaults");
    EXPECT_EQ(scheduler->class_name(), class_name);
    set_timesteps_as_fixture(*scheduler, expected["set_timesteps"]);
    EXPECT_LE(relative_error(scheduler->sigmas(), float32_values(expected["sigmas"], {-1})), kTolerance) << class_name;
  }
}

TEST(SchedulerConfig, LoadsFromTheSchedulerDirectory) {
  auto scheduler = load_scheduler((fixtures_dir() / "unipc_wan_shift3").string());
  EXPECT_EQ(scheduler->class_name(), "UniPCMultistepScheduler");
  const auto& config = dynamic_cast<const UniPCMultistepScheduler&>(*scheduler).config();
  EXPECT_TRUE(config.use_flow_sigmas);
  EXPECT_DOUBLE_EQ(config.flow_shift, 3.0);
  EXPECT_EQ(config.prediction_type, PredictionType::flow_prediction);
  EXPECT_EQ(config.solver_type, UniPCSolverType::bh2);
}

TEST(SchedulerConfig, UnknownClassNamesTheSupportedOnes) {
  const std::string message = message_of_config({{"_class_name", "DDIMScheduler"}});
  EXPECT_TRUE(has(message, "\"DDIMScheduler\" is not supported")) << message;
  EXPECT_TRUE(has(message, "FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler")) << message;
  EXPECT_TRUE(has(message_of_config({{"shift", 3.0}}), "no \"_class_name\""));
}

TEST(SchedulerConfig, UnsupportedOptionValuesNameKeyAndAlternatives) {
  const json unipc = {{"_class_name", "UniPCMultistepScheduler"}};
  const json flow_match = {{"_class_name", "FlowMatchEulerDiscreteScheduler"}};
  const auto with = [](json config, const std::string& key, json value) {
    config[key] = std::move(value);
    return config;
  };

  std::string message = message_of_config(with(unipc, "solver_type", "dpmsolver++"));
  EXPECT_TRUE(has(message, "\"solver_type\" = \"dpmsolver++\" is not supported")) << message;
  EXPECT_TRUE(has(message, "\"bh1\", \"bh2\"")) << message;
  message = message_of_config(with(unipc, "prediction_type", "x0"));
  EXPECT_TRUE(has(message, "\"prediction_type\"") && has(message, "\"flow_prediction\"")) << message;
  message = message_of_config(with(unipc, "use_karras_sigmas", true));
  EXPECT_TRUE(has(message, "use_karras_sigmas=true is not supported")) << message;
  message = message_of_config(with(unipc, "solver_p", json::object()));
  EXPECT_TRUE(has(message, "\"solver_p\"") && has(message, "supported: null")) << message;
  message = message_of_config(with(unipc, "timestep_spacing", "uniform"));
  EXPECT_TRUE(has(message, "\"timestep_spacing\"") && has(message, "\"trailing\"")) << message;
  message = message_of_config(with(with(unipc, "prediction_type", "flow_prediction"), "predict_x0", false));
  EXPECT_TRUE(has(message, "predict_x0=true")) << message;
  message = message_of_config(with(unipc, "shift_terminal", 0.1));
  EXPECT_TRUE(has(message, "shift_terminal") && has(message, "use_flow_sigmas")) << message;

  // Combinations that diffusers accepts but whose last step it turns into NaN or inf.
  message = message_of_config(with(unipc, "solver_type", "bh1"));
  EXPECT_TRUE(has(message, "solver_type=\"bh1\" with final_sigmas_type=\"zero\"") && has(message, "non-finite"))
      << message;
  EXPECT_NO_THROW(make_scheduler(with(with(unipc, "solver_type", "bh1"), "final_sigmas_type", "sigma_min"), "ok"));
  message = message_of_config(with(unipc, "predict_x0", false));
  EXPECT_TRUE(has(message, "predict_x0=false with final_sigmas_type=\"zero\"")) << message;
  message = message_of_config(with(unipc, "lower_order_final", false));
  EXPECT_TRUE(has(message, "lower_order_final=false with solver_order=2")) << message;

  message = message_of_config(with(flow_match, "stochastic_sampling", true));
  EXPECT_TRUE(has(message, "stochastic_sampling=true is not supported")) << message;
  message = message_of_config(with(flow_match, "use_beta_sigmas", true));
  EXPECT_TRUE(has(message, "use_beta_sigmas=true is not supported")) << message;
  message = message_of_config(with(flow_match, "time_shift_type", "cosine"));
  EXPECT_TRUE(has(message, "\"time_shift_type\" = \"cosine\"") && has(message, "\"linear\"")) << message;
  message = message_of_config(with(with(flow_match, "use_karras_sigmas", true), "use_exponential_sigmas", true));
  EXPECT_TRUE(has(message, "at most one of")) << message;
}

TEST(SchedulerConfig, WrongTypesNameTheKey) {
  std::string message = message_of_config({{"_class_name", "FlowMatchEulerDiscreteScheduler"}, {"shift", "three"}});
  EXPECT_TRUE(has(message, "\"shift\" must be a number, got string")) << message;
  message = message_of_config({{"_class_name", "UniPCMultistepScheduler"}, {"solver_order", 2.5}});
  EXPECT_TRUE(has(message, "\"solver_order\" must be an integer")) << message;
  message = message_of_config({{"_class_name", "UniPCMultistepScheduler"}, {"disable_corrector", "0"}});
  EXPECT_TRUE(has(message, "\"disable_corrector\" must be a list of integers")) << message;
}

// Integers are range-checked before they are narrowed to int: 1e12 timesteps used to wrap silently.
TEST(SchedulerConfig, AbsurdIntegersAreRefusedBeforeNarrowing) {
  std::string message =
      message_of_config({{"_class_name", "UniPCMultistepScheduler"}, {"num_train_timesteps", 1000000000000}});
  EXPECT_TRUE(has(message, "\"num_train_timesteps\" must be an integer from 1 to 1048576, got 1000000000000"))
      << message;
  message = message_of_config({{"_class_name", "FlowMatchEulerDiscreteScheduler"}, {"max_image_seq_len", 1e10}});
  EXPECT_TRUE(has(message, "\"max_image_seq_len\" must be an integer from 1 to 2147483647")) << message;
  message = message_of_config({{"_class_name", "UniPCMultistepScheduler"}, {"disable_corrector", {1, -3}}});
  EXPECT_TRUE(has(message, "\"disable_corrector\" entry must be an integer from 0")) << message;
}

TEST(SchedulerConfig, MissingOrMalformedFileSaysWhich) {
  const fs::path missing = fs::temp_directory_path() / "tessera_no_such_scheduler_config.json";
  EXPECT_TRUE(has(message_of([&] { load_scheduler(missing.string()); }), "does not exist"));
  const fs::path broken = fs::temp_directory_path() / "tessera_broken_scheduler_config.json";
  std::ofstream(broken) << "{\"_class_name\": ";
  const std::string message = message_of([&] { load_scheduler(broken.string()); });
  EXPECT_TRUE(has(message, "is not valid JSON") && has(message, broken.filename().string())) << message;
  fs::remove(broken);
}

TEST(SchedulerUse, DynamicShiftingNeedsMu) {
  FlowMatchEulerDiscreteConfig config;
  config.use_dynamic_shifting = true;
  FlowMatchEulerDiscreteScheduler scheduler(config);
  EXPECT_TRUE(has(message_of([&] { scheduler.set_timesteps(7); }), "mu must be given"));
  EXPECT_NO_THROW(scheduler.set_timesteps(7, 0.5));
}

TEST(SchedulerUse, MisuseIsReported) {
  UniPCMultistepScheduler unipc;
  const at::Tensor sample = at::zeros({1, 2, 3});
  EXPECT_TRUE(has(message_of([&] { unipc.step(sample, 999, sample); }), "call set_timesteps before step"));
  EXPECT_TRUE(has(message_of([&] { unipc.set_timesteps(std::vector<double>{1.0, 0.5}); }), "custom sigmas"));
  EXPECT_TRUE(has(message_of([&] { unipc.set_timesteps(0); }), "must be positive"));
  unipc.set_timesteps(2);
  for (int64_t i = 0; i < 2; ++i) unipc.step(sample, unipc.timesteps()[i].item<double>(), sample);
  EXPECT_TRUE(has(message_of([&] { unipc.step(sample, 0, sample); }), "past the last"));
  unipc.reset();
  EXPECT_NO_THROW(unipc.step(sample, unipc.timesteps()[0].item<double>(), sample));

  FlowMatchEulerDiscreteScheduler flow_match;
  flow_match.set_timesteps(4);
  EXPECT_TRUE(has(message_of([&] { flow_match.step(sample, 123.5, sample); }), "not in the schedule"));
  EXPECT_TRUE(has(message_of([&] { flow_match.add_noise(sample, sample, flow_match.timesteps()); }), "scale_noise"));
  EXPECT_TRUE(has(message_of([&] { flow_match.step(sample.unsqueeze(0), 1000, sample); }), "shape"));
}

// Starting part-way (image-to-image): set_begin_index picks the first step without a timestep lookup,
// and the steps continue from there exactly as a full run does at the same index.
TEST(SchedulerUse, BeginIndexStartsMidSchedule) {
  FlowMatchEulerDiscreteScheduler full;
  full.set_timesteps(6);
  FlowMatchEulerDiscreteScheduler partial;
  partial.set_timesteps(6);
  partial.set_begin_index(2);
  const at::Tensor sample = at::linspace(-1, 1, 12).reshape({1, 2, 6});
  const at::Tensor output = at::ones_like(sample);
  for (int i = 0; i < 2; ++i) full.step(output, full.timesteps()[i].item<double>(), sample);
  EXPECT_TRUE(at::equal(partial.step(output, 0, sample), full.step(output, full.timesteps()[2].item<double>(), sample)));
  EXPECT_EQ(partial.step_index(), 3);
}

}  // namespace
}  // namespace tessera
