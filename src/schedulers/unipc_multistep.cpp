#include "src/schedulers/unipc_multistep.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "common/check.h"

namespace tessera {
namespace {

// Betas from the cosine alpha-bar curve of Nichol & Dhariwal ("squaredcos_cap_v2"), in float64 as
// diffusers computes them, then rounded to float32.
at::Tensor cosine_betas(int64_t train_steps) {
  constexpr double pi = 3.141592653589793;
  const auto alpha_bar = [pi](double t) { return std::pow(std::cos((t + 0.008) / 1.008 * pi / 2), 2.0); };
  std::vector<double> betas(static_cast<size_t>(train_steps));
  for (int64_t i = 0; i < train_steps; ++i) {
    const double t1 = static_cast<double>(i) / static_cast<double>(train_steps);
    const double t2 = static_cast<double>(i + 1) / static_cast<double>(train_steps);
    betas[i] = std::min(1.0 - alpha_bar(t2) / alpha_bar(t1), 0.999);
  }
  return float32_tensor(betas);
}

// Rescales betas so the last timestep has zero signal (Lin et al. 2023), in float32 like diffusers.
at::Tensor rescale_to_zero_terminal_snr(const at::Tensor& betas) {
  const at::Tensor alphas_cumprod = at::cumprod(1.0 - betas, 0);
  at::Tensor alphas_bar_sqrt = alphas_cumprod.sqrt();
  const at::Tensor first = alphas_bar_sqrt[0].clone();
  const at::Tensor last = alphas_bar_sqrt[-1].clone();
  alphas_bar_sqrt -= last;
  alphas_bar_sqrt *= first / (first - last);
  const at::Tensor alphas_bar = at::pow(alphas_bar_sqrt, 2);
  const at::Tensor alphas = at::cat({alphas_bar.slice(0, 0, 1), alphas_bar.slice(0, 1) / alphas_bar.slice(0, 0, -1)});
  return 1 - alphas;
}

// numpy's round(): halves go to the even neighbour (the default rounding mode of nearbyint).
int64_t round_half_even(double value) { return static_cast<int64_t>(std::nearbyint(value)); }

}  // namespace

// Everything one predictor or corrector update needs besides the samples: the noise levels at both ends,
// the B(h) weights and the scaled differences D1 of earlier model outputs.
struct UniPCMultistepScheduler::Update {
  at::Tensor alpha_t, sigma_t, alpha_s0, sigma_s0;
  at::Tensor h_phi_1;  // e^hh - 1
  at::Tensor b_h;      // B(h): hh for bh1, e^hh - 1 for bh2
  at::Tensor r;        // [order, order] powers of the step ratios
  at::Tensor b;        // [order]
  at::Tensor d1s;      // [batch, order - 1, ...] or undefined for first order
};

UniPCMultistepScheduler::UniPCMultistepScheduler(UniPCMultistepConfig config) : config_(std::move(config)) {
  const std::string name = class_name();
  TESSERA_CHECK(config_.num_train_timesteps > 0 && config_.num_train_timesteps <= kMaxTrainTimesteps, name,
                ": num_train_timesteps must be in [1, ", kMaxTrainTimesteps, "], got ", config_.num_train_timesteps);
  TESSERA_CHECK(config_.solver_order >= 1, name, ": solver_order must be at least 1, got ", config_.solver_order);
  TESSERA_CHECK(int(config_.use_karras_sigmas) + int(config_.use_exponential_sigmas) + int(config_.use_beta_sigmas) <= 1,
                name, ": at most one of use_karras_sigmas, use_exponential_sigmas, use_beta_sigmas may be true");
  for (const auto& [option, enabled] : {std::pair<const char*, bool>{"use_karras_sigmas", config_.use_karras_sigmas},
                                        {"use_exponential_sigmas", config_.use_exponential_sigmas},
                                        {"use_beta_sigmas", config_.use_beta_sigmas}}) {
    TESSERA_CHECK(!enabled, name, ": ", option,
                  "=true is not supported by tessera (supported sigma schedules: the training schedule, or "
                  "use_flow_sigmas=true)");
  }
  TESSERA_CHECK(!config_.shift_terminal || config_.use_flow_sigmas, name,
                ": shift_terminal is only valid with use_flow_sigmas=true");
  // Outside these ranges the flow sigmas leave [0, 1] or become NaN (flow_shift 0 gives 0/0 at sigma 1).
  TESSERA_CHECK(!config_.use_flow_sigmas || config_.flow_shift > 0, name, ": flow_shift must be positive, got ",
                config_.flow_shift);
  TESSERA_CHECK(!config_.shift_terminal || (*config_.shift_terminal >= 0 && *config_.shift_terminal < 1), name,
                ": shift_terminal must be in [0, 1) (0: none), got ", config_.shift_terminal.value_or(0));
  TESSERA_CHECK(config_.predict_x0 || config_.prediction_type != PredictionType::flow_prediction, name,
                ": prediction_type \"flow_prediction\" needs predict_x0=true");
  // Combinations whose last step diffusers turns into NaN or infinity (the log-SNR of a zero sigma is
  // infinite): refused here rather than reproduced.
  const bool final_zero = config_.final_sigmas_type == FinalSigmasType::zero;
  const char* const nonfinite = " makes diffusers' last step non-finite (NaN or inf); ";
  TESSERA_CHECK(!final_zero || config_.solver_type != UniPCSolverType::bh1, name,
                ": solver_type=\"bh1\" with final_sigmas_type=\"zero\"", nonfinite,
                "use solver_type \"bh2\" or final_sigmas_type \"sigma_min\"");
  TESSERA_CHECK(!final_zero || config_.predict_x0, name, ": predict_x0=false with final_sigmas_type=\"zero\"",
                nonfinite, "use predict_x0=true or final_sigmas_type \"sigma_min\"");
  TESSERA_CHECK(!final_zero || config_.lower_order_final || config_.solver_order < 2, name,
                ": lower_order_final=false with solver_order=", config_.solver_order,
                " and final_sigmas_type=\"zero\"", nonfinite, "use lower_order_final=true");
  TESSERA_CHECK(final_zero || !config_.use_flow_sigmas || config_.lower_order_final || config_.solver_order < 3, name,
                ": lower_order_final=false with solver_order=", config_.solver_order,
                ", use_flow_sigmas and final_sigmas_type=\"sigma_min\"", nonfinite,
                "use lower_order_final=true or solver_order <= 2");
  TESSERA_CHECK(config_.dynamic_thresholding_ratio > 0 && config_.dynamic_thresholding_ratio <= 1, name,
                ": dynamic_thresholding_ratio must be in (0, 1], got ", config_.dynamic_thresholding_ratio);

  at::Tensor betas;
  if (config_.trained_betas) {
    TESSERA_CHECK(static_cast<int64_t>(config_.trained_betas->size()) == config_.num_train_timesteps, name,
                  ": trained_betas has ", config_.trained_betas->size(), " values but num_train_timesteps is ",
                  config_.num_train_timesteps);
    betas = float32_tensor(*config_.trained_betas);
  } else if (config_.beta_schedule == BetaSchedule::linear) {
    betas = at::linspace(config_.beta_start, config_.beta_end, config_.num_train_timesteps, at::kFloat);
  } else if (config_.beta_schedule == BetaSchedule::scaled_linear) {
    betas = at::pow(at::linspace(std::pow(config_.beta_start, 0.5), std::pow(config_.beta_end, 0.5),
                                 config_.num_train_timesteps, at::kFloat),
                    2);
  } else {
    betas = cosine_betas(config_.num_train_timesteps);
  }
  if (config_.rescale_betas_zero_snr) betas = rescale_to_zero_terminal_snr(betas);
  alphas_cumprod_ = at::cumprod(1.0 - betas, 0);
  // An exactly zero terminal alpha_bar would make its sigma infinite; diffusers nudges it to 2^-24.
  if (config_.rescale_betas_zero_snr) alphas_cumprod_[-1] = std::ldexp(1.0, -24);
  train_sigmas_ = at::pow((1 - alphas_cumprod_) / alphas_cumprod_, 0.5);
  reset_history();
}

std::vector<int64_t> UniPCMultistepScheduler::spaced_timesteps(int num_inference_steps) const {
  const int64_t train_steps = config_.num_train_timesteps;
  std::vector<int64_t> timesteps;
  if (config_.timestep_spacing == TimestepSpacing::linspace) {
    const std::vector<double> points = numpy_linspace(0, static_cast<double>(train_steps - 1), num_inference_steps + 1);
    for (size_t i = points.size() - 1; i >= 1; --i) timesteps.push_back(round_half_even(points[i]));
  } else if (config_.timestep_spacing == TimestepSpacing::leading) {
    const int64_t ratio = train_steps / (num_inference_steps + 1);
    for (int64_t i = num_inference_steps; i >= 1; --i) timesteps.push_back(i * ratio + config_.steps_offset);
  } else {
    const double ratio = static_cast<double>(train_steps) / num_inference_steps;
    for (double t : numpy_arange(static_cast<double>(train_steps), 0.0, -ratio)) {
      timesteps.push_back(round_half_even(t) - 1);
    }
  }
  return timesteps;
}

std::vector<int64_t> UniPCMultistepScheduler::build_flow_schedule(int num_inference_steps,
                                                                        std::optional<double> mu) {
  const double train_steps = config_.num_train_timesteps;
  std::vector<double> sigmas = numpy_linspace(1.0, 1.0 / train_steps, num_inference_steps + 1);
  sigmas.pop_back();
  sigmas = config_.use_dynamic_shifting ? time_shift_sigmas(std::move(sigmas), *mu, config_.time_shift_type)
                                        : shift_sigmas(std::move(sigmas), config_.flow_shift);
  if (config_.shift_terminal.value_or(0.0) != 0.0) {
    sigmas = stretch_sigmas_to_terminal(std::move(sigmas), *config_.shift_terminal);
  }
  // A first sigma of exactly 1 means alpha = 0, whose log the solver cannot take.
  constexpr double eps = 1e-6;
  if (std::fabs(sigmas[0] - 1.0) < eps) sigmas[0] -= eps;
  std::vector<int64_t> timesteps;
  for (double sigma : sigmas) timesteps.push_back(static_cast<int64_t>(sigma * train_steps));
  sigmas.push_back(config_.final_sigmas_type == FinalSigmasType::sigma_min ? sigmas.back() : 0.0);
  sigmas_ = float32_tensor(sigmas);
  return timesteps;
}

void UniPCMultistepScheduler::build_schedule(int num_inference_steps, std::optional<double> mu) {
  TESSERA_CHECK(!config_.use_dynamic_shifting || mu.has_value(), class_name(),
                ".set_timesteps: mu must be given because the config sets use_dynamic_shifting=true");
  std::vector<int64_t> timesteps;
  if (config_.use_flow_sigmas) {
    timesteps = build_flow_schedule(num_inference_steps, mu);
  } else {
    timesteps = spaced_timesteps(num_inference_steps);
    // The training sigmas at those (integer) timesteps, clamped to the table as numpy.interp does.
    const int64_t last = config_.num_train_timesteps - 1;
    std::vector<int64_t> rows;
    for (int64_t t : timesteps) rows.push_back(std::clamp<int64_t>(t, 0, last));
    const at::Tensor picked = train_sigmas_.index_select(0, at::tensor(at::ArrayRef<int64_t>(rows)));
    const at::Tensor final_sigma = config_.final_sigmas_type == FinalSigmasType::sigma_min
                                       ? train_sigmas_.slice(0, 0, 1)
                                       : at::zeros({1}, train_sigmas_.options());
    sigmas_ = at::cat({picked, final_sigma});
  }
  timesteps_ = at::tensor(at::ArrayRef<int64_t>(timesteps), at::kLong);
}

void UniPCMultistepScheduler::reset_history() {
  model_outputs_.assign(static_cast<size_t>(config_.solver_order), at::Tensor());
  lower_order_nums_ = 0;
  this_order_ = 0;
  last_sample_ = at::Tensor();
}

int64_t UniPCMultistepScheduler::index_for_timestep(double timestep) const {
  require_schedule("index_for_timestep");
  const at::Tensor matches = at::nonzero(at::eq(timesteps_, timestep));
  // diffusers falls back to the last step for a timestep it does not know, and takes the second of
  // repeated timesteps.
  if (matches.size(0) == 0) return timesteps_.size(0) - 1;
  return matches[matches.size(0) > 1 ? 1 : 0][0].item<int64_t>();
}

std::pair<at::Tensor, at::Tensor> UniPCMultistepScheduler::alpha_sigma(const at::Tensor& sigma) const {
  if (config_.use_flow_sigmas) return {1 - sigma, sigma};
  const at::Tensor alpha = at::reciprocal(at::pow(at::pow(sigma, 2) + 1, 0.5));
  return {alpha, sigma * alpha};
}

at::Tensor UniPCMultistepScheduler::log_snr(int64_t sigma_index) const {
  const auto [alpha, sigma] = alpha_sigma(sigmas_[sigma_index]);
  return at::log(alpha) - at::log(sigma);
}

at::Tensor UniPCMultistepScheduler::add_noise(const at::Tensor& original_samples, const at::Tensor& noise,
                                             const at::Tensor& timesteps) {
  const std::vector<int64_t> indices = noise_step_indices(timesteps);
  const at::Tensor sigmas = sigmas_.to(original_samples.device(), original_samples.scalar_type());
  at::Tensor sigma =
      sigmas.index_select(0, at::tensor(at::ArrayRef<int64_t>(indices)).to(original_samples.device())).flatten();
  while (sigma.dim() < original_samples.dim()) sigma = sigma.unsqueeze(-1);
  const auto [alpha_t, sigma_t] = alpha_sigma(sigma);
  return alpha_t * original_samples + sigma_t * noise;
}

at::Tensor UniPCMultistepScheduler::threshold_sample(const at::Tensor& sample) const {
  TESSERA_CHECK(sample.dim() >= 2, class_name(), ": thresholding needs a [batch, channels, ...] sample, got shape ",
                sample.sizes());
  const auto dtype = sample.scalar_type();
  at::Tensor flat = sample;
  // quantile needs float32 or float64.
  if (dtype != at::kFloat && dtype != at::kDouble) flat = flat.to(at::kFloat);
  flat = flat.reshape({sample.size(0), -1});
  at::Tensor limit = at::quantile(flat.abs(), config_.dynamic_thresholding_ratio, 1);
  limit = at::clamp(limit, 1, config_.sample_max_value).unsqueeze(1);
  flat = at::clamp(flat, -limit, limit) / limit;
  return flat.reshape(sample.sizes()).to(dtype);
}

at::Tensor UniPCMultistepScheduler::convert_model_output(const at::Tensor& model_output,
                                                         const at::Tensor& sample) const {
  const at::Tensor sigma = sigmas_[*step_index_];
  const auto [alpha_t, sigma_t] = alpha_sigma(sigma);
  if (!config_.predict_x0) {
    switch (config_.prediction_type) {
      case PredictionType::epsilon: return model_output;
      case PredictionType::sample: return (sample - alpha_t * model_output) / sigma_t;
      case PredictionType::v_prediction: return alpha_t * model_output + sigma_t * sample;
      case PredictionType::flow_prediction: break;
    }
    TESSERA_INTERNAL_ASSERT(false, "flow_prediction without predict_x0 passed construction");
  }
  at::Tensor x0;
  switch (config_.prediction_type) {
    case PredictionType::epsilon: x0 = (sample - sigma_t * model_output) / alpha_t; break;
    case PredictionType::sample: x0 = model_output; break;
    case PredictionType::v_prediction: x0 = alpha_t * sample - sigma_t * model_output; break;
    // The velocity points from data to noise: x0 = x - sigma * v.
    case PredictionType::flow_prediction: x0 = sample - sigma * model_output; break;
  }
  return config_.thresholding ? threshold_sample(x0) : x0;
}

UniPCMultistepScheduler::Update UniPCMultistepScheduler::prepare_update(int64_t to, int64_t from, int order) const {
  Update update;
  std::tie(update.alpha_t, update.sigma_t) = alpha_sigma(sigmas_[to]);
  std::tie(update.alpha_s0, update.sigma_s0) = alpha_sigma(sigmas_[from]);
  const at::Tensor lambda_s0 = log_snr(from);
  const at::Tensor h = log_snr(to) - lambda_s0;

  const at::Tensor& m0 = model_outputs_.back();
  std::vector<at::Tensor> ratios;
  std::vector<at::Tensor> differences;
  for (int k = 1; k < order; ++k) {
    const at::Tensor ratio = (log_snr(from - k) - lambda_s0) / h;
    ratios.push_back(ratio);
    differences.push_back((model_outputs_[model_outputs_.size() - 1 - k] - m0) / ratio);
  }
  ratios.push_back(at::ones({}, at::kFloat));
  const at::Tensor rks = at::stack(ratios);

  const at::Tensor hh = config_.predict_x0 ? -h : h;
  update.h_phi_1 = at::expm1(hh);
  update.b_h = config_.solver_type == UniPCSolverType::bh1 ? hh : at::expm1(hh);
  // h_phi_k walks through the phi functions phi_k(hh) = (phi_{k-1}(hh) - 1/(k-1)!) / hh, times k!.
  at::Tensor h_phi_k = update.h_phi_1 / hh - 1;
  int64_t factorial = 1;
  std::vector<at::Tensor> r_rows;
  std::vector<at::Tensor> b_values;
  for (int k = 1; k <= order; ++k) {
    r_rows.push_back(at::pow(rks, static_cast<int64_t>(k - 1)));
    b_values.push_back(h_phi_k * factorial / update.b_h);
    factorial *= k + 1;
    h_phi_k = h_phi_k / hh - 1.0 / static_cast<double>(factorial);
  }
  update.r = at::stack(r_rows);
  update.b = at::stack(b_values);
  if (!differences.empty()) update.d1s = at::stack(differences, 1);
  return update;
}

at::Tensor UniPCMultistepScheduler::predictor(const at::Tensor& sample, int order) const {
  const int64_t index = *step_index_;
  const Update u = prepare_update(index + 1, index, order);
  const at::Tensor& m0 = model_outputs_.back();
  at::Tensor correction;
  if (u.d1s.defined()) {
    // Second order has a closed form; higher orders solve the order conditions.
    const at::Tensor rhos = order == 2 ? at::ones({1}, sample.scalar_type()) * 0.5
                                       : at::linalg_solve(u.r.slice(0, 0, -1).slice(1, 0, -1), u.b.slice(0, 0, -1))
                                             .to(sample.scalar_type());
    correction = at::einsum("k,bkc...->bc...", {rhos.to(sample.device()), u.d1s});
  }
  at::Tensor x_t;
  if (config_.predict_x0) {
    x_t = u.sigma_t / u.sigma_s0 * sample - u.alpha_t * u.h_phi_1 * m0;
    if (correction.defined()) x_t = x_t - u.alpha_t * u.b_h * correction;
  } else {
    x_t = u.alpha_t / u.alpha_s0 * sample - u.sigma_t * u.h_phi_1 * m0;
    if (correction.defined()) x_t = x_t - u.sigma_t * u.b_h * correction;
  }
  return x_t.to(sample.scalar_type());
}

at::Tensor UniPCMultistepScheduler::corrector(const at::Tensor& this_output, const at::Tensor& last_sample,
                                              const at::Tensor& this_sample, int order) const {
  const int64_t index = *step_index_;
  const Update u = prepare_update(index, index - 1, order);
  const at::Tensor& m0 = model_outputs_.back();
  const auto dtype = last_sample.scalar_type();
  const at::Tensor rhos = order == 1 ? at::ones({1}, dtype) * 0.5 : at::linalg_solve(u.r, u.b).to(dtype);
  const at::Tensor rho_t = rhos[-1].to(this_sample.device());
  at::Tensor correction = rho_t * (this_output - m0);
  if (u.d1s.defined()) {
    correction = at::einsum("k,bkc...->bc...", {rhos.slice(0, 0, -1).to(this_sample.device()), u.d1s}) + correction;
  }
  at::Tensor x_t;
  if (config_.predict_x0) {
    x_t = u.sigma_t / u.sigma_s0 * last_sample - u.alpha_t * u.h_phi_1 * m0;
    x_t = x_t - u.alpha_t * u.b_h * correction;
  } else {
    x_t = u.alpha_t / u.alpha_s0 * last_sample - u.sigma_t * u.h_phi_1 * m0;
    x_t = x_t - u.sigma_t * u.b_h * correction;
  }
  return x_t.to(dtype);
}

at::Tensor UniPCMultistepScheduler::step_at_index(const at::Tensor& model_output, const at::Tensor& sample) {
  const int64_t index = *step_index_;
  const bool corrector_enabled =
      std::find(config_.disable_corrector.begin(), config_.disable_corrector.end(), index - 1) ==
      config_.disable_corrector.end();
  const bool use_corrector = index > 0 && corrector_enabled && last_sample_.defined();
  const at::Tensor converted = convert_model_output(model_output, sample);
  // The corrector refines the sample the previous predictor produced, now that the model has seen it.
  const at::Tensor corrected = use_corrector ? corrector(converted, last_sample_, sample, this_order_) : sample;

  std::rotate(model_outputs_.begin(), model_outputs_.begin() + 1, model_outputs_.end());
  model_outputs_.back() = converted;

  const int64_t steps_left = num_inference_steps() - index;
  const int wanted_order = config_.lower_order_final
                               ? static_cast<int>(std::min<int64_t>(config_.solver_order, steps_left))
                               : config_.solver_order;
  // Warm-up: a k-th order step needs k earlier model outputs.
  this_order_ = std::min(wanted_order, lower_order_nums_ + 1);
  TESSERA_INTERNAL_ASSERT(this_order_ > 0);
  last_sample_ = corrected;
  at::Tensor previous = predictor(corrected, this_order_);
  if (lower_order_nums_ < config_.solver_order) ++lower_order_nums_;
  return previous;
}

}  // namespace tessera
