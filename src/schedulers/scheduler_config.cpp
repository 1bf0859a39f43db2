#include "src/schedulers/scheduler_config.h"

#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>
#include <vector>

#include "common/join.h"
#include "common/check.h"
#include "common/log.h"
#include "src/io/json_file.h"
#include "src/io/json_integer.h"
#include "src/schedulers/flow_match_euler_discrete.h"
#include "src/schedulers/unipc_multistep.h"

namespace tessera {
namespace {

using nlohmann::json;

// Typed access to the keys of one config, with errors that name the file, class and key. Remembers
// which keys were read so the rest can be reported.
class ConfigFields {
 public:
  ConfigFields(const json& config, std::string source, std::string class_name)
      : config_(config), source_(std::move(source)), class_name_(std::move(class_name)) {}

  double number(const std::string& key, double fallback) {
    const json* value = find(key);
    if (value == nullptr) return fallback;
    TESSERA_CHECK(value->is_number(), where(key), " must be a number, got ", describe(*value));
    return value->get<double>();
  }

  std::optional<double> optional_number(const std::string& key, std::optional<double> fallback) {
    const json* value = find(key);
    if (value == nullptr) return fallback;
    if (value->is_null()) return std::nullopt;
    TESSERA_CHECK(value->is_number(), where(key), " must be a number or null, got ", describe(*value));
    return value->get<double>();
  }

  int integer(const std::string& key, int fallback, int min, int max = std::numeric_limits<int>::max()) {
    const json* value = find(key);
    if (value == nullptr) return fallback;
    return io::json_integer<int>(*value, where(key), min, max);
  }

  bool boolean(const std::string& key, bool fallback) {
    const json* value = find(key);
    if (value == nullptr) return fallback;
    TESSERA_CHECK(value->is_boolean(), where(key), " must be true or false, got ", describe(*value));
    return value->get<bool>();
  }

  // One of `choices` by name; an unknown name is an error listing the supported ones.
  template <typename Enum>
  Enum choice(const std::string& key, Enum fallback, const std::vector<std::pair<std::string, Enum>>& choices) {
    const json* value = find(key);
    if (value == nullptr) return fallback;
    std::string supported;
    for (const auto& [name, option] : choices) {
      if (value->is_string() && value->get<std::string>() == name) return option;
      supported += (supported.empty() ? "\"" : ", \"") + name + "\"";
    }
    TESSERA_CHECK(false, where(key), " = ", value->dump(), " is not supported by tessera (supported: ", supported,
                  ")");
    return fallback;
  }

  std::vector<int64_t> integer_list(const std::string& key) {
    const json* value = find(key);
    if (value == nullptr || value->is_null()) return {};
    TESSERA_CHECK(value->is_array(), where(key), " must be a list of integers, got ", describe(*value));
    std::vector<int64_t> result;
    for (const json& item : *value) result.push_back(io::json_integer<int64_t>(item, where(key) + " entry", 0));
    return result;
  }

  std::optional<std::vector<double>> optional_number_list(const std::string& key) {
    const json* value = find(key);
    if (value == nullptr || value->is_null()) return std::nullopt;
    TESSERA_CHECK(value->is_array(), where(key), " must be a list of numbers or null, got ", describe(*value));
    std::vector<double> result;
    for (const json& item : *value) {
      TESSERA_CHECK(item.is_number(), where(key), " must hold numbers, got ", describe(item));
      result.push_back(item.get<double>());
    }
    return result;
  }

  // A key whose only implemented value is null.
  void require_null(const std::string& key, const std::string& why) {
    const json* value = find(key);
    TESSERA_CHECK(value == nullptr || value->is_null(), where(key), " = ", value ? value->dump() : "",
                  " is not supported by tessera (supported: null); ", why);
  }

  // diffusers ignores keys its __init__ does not take (they come from other scheduler classes); so do we,
  // but say so.
  void report_ignored_keys() const {
    std::vector<std::string> ignored_keys;
    for (const auto& [key, value] : config_.items()) {
      if (key.empty() || key[0] == '_' || read_.count(key) > 0) continue;
      ignored_keys.push_back(key);
    }
    const std::string ignored = join(ignored_keys);
    if (!ignored.empty()) {
      TESSERA_LOG_WARN(source_, ": ignoring keys that ", class_name_, " does not take (diffusers ignores them too): ",
                       ignored);
    }
  }

 private:
  const json* find(const std::string& key) {
    read_.insert(key);
    const auto it = config_.find(key);
    return it == config_.end() ? nullptr : &*it;
  }
  std::string where(const std::string& key) const { return source_ + ": " + class_name_ + " option \"" + key + "\""; }
  static std::string describe(const json& value) { return std::string(value.type_name()) + " " + value.dump(); }

  const json& config_;
  std::string source_;
  std::string class_name_;
  std::set<std::string> read_;
};

// The training schedule's length: tables of this many entries are built.
constexpr int kMaxTrainTimesteps = 1 << 20;

const std::vector<std::pair<std::string, TimeShiftType>> kTimeShiftTypes{{"exponential", TimeShiftType::exponential},
                                                                         {"linear", TimeShiftType::linear}};

std::unique_ptr<Scheduler> make_flow_match(ConfigFields& fields) {
  FlowMatchEulerDiscreteConfig config;
  config.num_train_timesteps = fields.integer("num_train_timesteps", config.num_train_timesteps, 1, kMaxTrainTimesteps);
  config.shift = fields.number("shift", config.shift);
  config.use_dynamic_shifting = fields.boolean("use_dynamic_shifting", config.use_dynamic_shifting);
  config.base_shift = fields.optional_number("base_shift", config.base_shift);
  config.max_shift = fields.optional_number("max_shift", config.max_shift);
  config.base_image_seq_len = fields.integer("base_image_seq_len", config.base_image_seq_len, 1);
  config.max_image_seq_len = fields.integer("max_image_seq_len", config.max_image_seq_len, 1);
  config.invert_sigmas = fields.boolean("invert_sigmas", config.invert_sigmas);
  config.shift_terminal = fields.optional_number("shift_terminal", config.shift_terminal);
  config.use_karras_sigmas = fields.boolean("use_karras_sigmas", config.use_karras_sigmas);
  config.use_exponential_sigmas = fields.boolean("use_exponential_sigmas", config.use_exponential_sigmas);
  config.use_beta_sigmas = fields.boolean("use_beta_sigmas", config.use_beta_sigmas);
  config.time_shift_type = fields.choice("time_shift_type", config.time_shift_type, kTimeShiftTypes);
  config.stochastic_sampling = fields.boolean("stochastic_sampling", config.stochastic_sampling);
  fields.report_ignored_keys();
  return std::make_unique<FlowMatchEulerDiscreteScheduler>(config);
}

std::unique_ptr<Scheduler> make_unipc(ConfigFields& fields) {
  UniPCMultistepConfig config;
  config.num_train_timesteps = fields.integer("num_train_timesteps", config.num_train_timesteps, 1, kMaxTrainTimesteps);
  config.beta_start = fields.number("beta_start", config.beta_start);
  config.beta_end = fields.number("beta_end", config.beta_end);
  config.beta_schedule = fields.choice("beta_schedule", config.beta_schedule,
                                       {{"linear", BetaSchedule::linear},
                                        {"scaled_linear", BetaSchedule::scaled_linear},
                                        {"squaredcos_cap_v2", BetaSchedule::squaredcos_cap_v2}});
  config.trained_betas = fields.optional_number_list("trained_betas");
  config.solver_order = fields.integer("solver_order", config.solver_order, 1);
  config.prediction_type = fields.choice("prediction_type", config.prediction_type,
                                         {{"epsilon", PredictionType::epsilon},
                                          {"sample", PredictionType::sample},
                                          {"v_prediction", PredictionType::v_prediction},
                                          {"flow_prediction", PredictionType::flow_prediction}});
  config.thresholding = fields.boolean("thresholding", config.thresholding);
  config.dynamic_thresholding_ratio = fields.number("dynamic_thresholding_ratio", config.dynamic_thresholding_ratio);
  config.sample_max_value = fields.number("sample_max_value", config.sample_max_value);
  config.predict_x0 = fields.boolean("predict_x0", config.predict_x0);
  // diffusers maps the DPM-Solver names onto bh2, so configs copied from DPMSolver load the same way.
  config.solver_type = fields.choice("solver_type", config.solver_type,
                                     {{"bh1", UniPCSolverType::bh1},
                                      {"bh2", UniPCSolverType::bh2},
                                      {"midpoint", UniPCSolverType::bh2},
                                      {"heun", UniPCSolverType::bh2},
                                      {"logrho", UniPCSolverType::bh2}});
  config.lower_order_final = fields.boolean("lower_order_final", config.lower_order_final);
  config.disable_corrector = fields.integer_list("disable_corrector");
  fields.require_null("solver_p", "an alternative predictor scheduler is not implemented");
  config.use_karras_sigmas = fields.boolean("use_karras_sigmas", config.use_karras_sigmas);
  config.use_exponential_sigmas = fields.boolean("use_exponential_sigmas", config.use_exponential_sigmas);
  config.use_beta_sigmas = fields.boolean("use_beta_sigmas", config.use_beta_sigmas);
  config.use_flow_sigmas = fields.boolean("use_flow_sigmas", config.use_flow_sigmas);
  config.flow_shift = fields.number("flow_shift", config.flow_shift);
  config.timestep_spacing = fields.choice("timestep_spacing", config.timestep_spacing,
                                          {{"linspace", TimestepSpacing::linspace},
                                           {"leading", TimestepSpacing::leading},
                                           {"trailing", TimestepSpacing::trailing}});
  config.steps_offset = fields.integer("steps_offset", config.steps_offset, 0);
  config.final_sigmas_type = fields.choice("final_sigmas_type", config.final_sigmas_type,
                                           {{"zero", FinalSigmasType::zero}, {"sigma_min", FinalSigmasType::sigma_min}});
  config.rescale_betas_zero_snr = fields.boolean("rescale_betas_zero_snr", config.rescale_betas_zero_snr);
  config.use_dynamic_shifting = fields.boolean("use_dynamic_shifting", config.use_dynamic_shifting);
  config.time_shift_type = fields.choice("time_shift_type", config.time_shift_type, kTimeShiftTypes);
  // sigma_min/sigma_max only bound the Karras, exponential and beta schedules, which are rejected above
  // when enabled; read them so they are not reported as ignored.
  fields.optional_number("sigma_min", std::nullopt);
  fields.optional_number("sigma_max", std::nullopt);
  config.shift_terminal = fields.optional_number("shift_terminal", config.shift_terminal);
  fields.report_ignored_keys();
  return std::make_unique<UniPCMultistepScheduler>(config);
}

}  // namespace

std::unique_ptr<Scheduler> make_scheduler(const json& config, const std::string& source) {
  TESSERA_CHECK(config.is_object(), source, " must hold a JSON object, not ", config.type_name());
  const auto class_it = config.find("_class_name");
  TESSERA_CHECK(class_it != config.end() && class_it->is_string(), source,
                " has no \"_class_name\" string naming the scheduler class");
  const std::string class_name = class_it->get<std::string>();
  ConfigFields fields(config, source, class_name);
  if (class_name == "FlowMatchEulerDiscreteScheduler") return make_flow_match(fields);
  if (class_name == "UniPCMultistepScheduler") return make_unipc(fields);
  TESSERA_CHECK(false, source, ": scheduler class \"", class_name,
                "\" is not supported by tessera (supported: FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler)");
  return nullptr;
}

std::unique_ptr<Scheduler> load_scheduler(const std::string& path) {
  std::filesystem::path file(path);
  if (std::filesystem::is_directory(file)) file /= "scheduler_config.json";
  TESSERA_CHECK(std::filesystem::is_regular_file(file), "scheduler config ", file, " does not exist");
  return make_scheduler(io::read_json_object(file.string()), file.string());
}

}  // namespace tessera
