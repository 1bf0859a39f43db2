#include "cache/cache_spec.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <map>
#include <utility>
#include <vector>

#include "common/join.h"
#include "common/check.h"

namespace tessera {
namespace {

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    parts.emplace_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

double parse_double(const std::string& method, const std::string& key, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  TESSERA_CHECK(!text.empty() && end == text.c_str() + text.size() && errno == 0, "--cache ", method, ": ", key,
                " takes a number, got \"", text, "\"");
  return value;
}

int64_t parse_int(const std::string& method, const std::string& key, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  TESSERA_CHECK(!text.empty() && end == text.c_str() + text.size() && errno == 0, "--cache ", method, ": ", key,
                " takes an integer, got \"", text, "\"");
  return value;
}

// "lo-hi" (integers, lo < hi); a leading '-' belongs to lo, so "-1-681" is (-1, 681).
std::pair<int64_t, int64_t> parse_range(const std::string& method, const std::string& key, const std::string& text) {
  const size_t dash = text.find('-', 1);
  TESSERA_CHECK(!text.empty() && dash != std::string::npos, "--cache ", method, ": ", key,
                " takes lo-hi (integers, for example 100-800), got \"", text, "\"");
  const std::pair<int64_t, int64_t> range{parse_int(method, key, text.substr(0, dash)),
                                          parse_int(method, key, text.substr(dash + 1))};
  TESSERA_CHECK(range.first < range.second, "--cache ", method, ": ", key, " needs lo < hi, got \"", text, "\"");
  return range;
}

// A TeaCache fit's name (a word such as "default"), as opposed to a list of numbers; "inf" and "nan" are numbers.
bool is_fit_name(const std::string& text) {
  if (text.empty() || std::isalpha(static_cast<unsigned char>(text[0])) == 0) return false;
  for (const char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_' && c != '-' && c != '.') return false;
  }
  char* end = nullptr;
  std::strtod(text.c_str(), &end);
  return end != text.c_str() + text.size();
}

using Setter = std::function<void(const std::string& value)>;

// Applies key=value pairs through `setters`, refusing unknown keys with the list of known ones.
void apply(const std::string& method, const std::string& options, const std::map<std::string, Setter>& setters) {
  if (options.empty()) return;
  for (const std::string& pair : split(options, ',')) {
    const size_t equals = pair.find('=');
    TESSERA_CHECK(equals != std::string::npos && equals > 0, "--cache ", method, ": expected key=value, got \"", pair,
                  "\"");
    const std::string key = pair.substr(0, equals);
    const auto it = setters.find(key);
    if (it == setters.end()) {
      std::vector<std::string> keys;
      for (const auto& entry : setters) keys.push_back(entry.first);
      const std::string known = join(keys);
      TESSERA_CHECK(false, "--cache ", method, ": unknown key \"", key, "\"; known keys: ", known);
    }
    it->second(pair.substr(equals + 1));
  }
}

// A key taking "lo-hi" into `field`.
Setter range_setter(const std::string& method, const char* key, std::pair<int64_t, int64_t>& field) {
  return [&method, key, &field](const std::string& v) { field = parse_range(method, key, v); };
}

// A key taking "<identifier>;<identifier>;..." into `field`.
Setter identifiers_setter(std::vector<std::string>& field) {
  return [&field](const std::string& v) { field = split(v, ';'); };
}

bool parse_bool(const std::string& method, const std::string& key, const std::string& v) {
  TESSERA_CHECK(v == "0" || v == "1" || v == "true" || v == "false", "--cache ", method, ": ", key,
                " takes true or false, got \"", v, "\"");
  return v == "1" || v == "true";
}

// A key taking an integer >= minimum into `field`.
Setter count_setter(const std::string& method, const char* key, int64_t& field, int64_t minimum) {
  return [&method, key, &field, minimum](const std::string& v) {
    field = parse_int(method, key, v);
    TESSERA_CHECK(field >= minimum, "--cache ", method, ": ", key, " must be >= ", minimum, ", got ", field);
  };
}

CacheConfig parse_mag_cache(const std::string& method, const std::string& options) {
  MagCacheConfig config;
  apply(method, options,
        {{"threshold", [&](const std::string& v) { config.threshold = parse_double(method, "threshold", v); }},
         {"max_skip", count_setter(method, "max_skip", config.max_skip_steps, 0)},
         {"retention", [&](const std::string& v) { config.retention_ratio = parse_double(method, "retention", v); }},
         {"steps", count_setter(method, "steps", config.num_inference_steps, 0)},
         {"ratios",
          [&](const std::string& v) {
            if (v.find('/') != std::string::npos || v.ends_with(".json") || is_fit_name(v)) {
              config.ratios = v;  // ratios the model carries, or a calibration file: resolved by enable_cache
            } else {
              std::vector<double> values;
              for (const std::string& r : split(v, ';')) values.push_back(parse_double(method, "ratios", r));
              config.ratios = std::move(values);
            }
          }},
         {"calibrate", [&](const std::string& v) { config.calibrate = parse_bool(method, "calibrate", v); }},
         {"blocks", [&](const std::string& v) { config.blocks = v; }}});
  TESSERA_CHECK(config.threshold >= 0, "--cache ", method, ": threshold must be >= 0, got ", config.threshold);
  TESSERA_CHECK(config.retention_ratio >= 0 && config.retention_ratio <= 1, "--cache ", method,
                ": retention must be in [0, 1], got ", config.retention_ratio);
  return config;
}

CacheConfig parse_sea_cache(const std::string& method, const std::string& options) {
  SeaCacheConfig config;
  apply(method, options,
        {{"threshold", [&](const std::string& v) { config.threshold = parse_double(method, "threshold", v); }},
         {"order",
          [&](const std::string& v) {
            config.residual_order = parse_int(method, "order", v);
            TESSERA_CHECK(config.residual_order == 0 || config.residual_order == 1, "--cache ", method,
                          ": order must be 0 or 1, got ", config.residual_order);
          }},
         {"retention", count_setter(method, "retention", config.retention_steps, 0)},
         {"end", count_setter(method, "end", config.cache_end_steps, 0)},
         {"max_cached", count_setter(method, "max_cached", config.max_consecutive_cached, 0)},
         {"power", [&](const std::string& v) { config.power_exp = parse_double(method, "power", v); }},
         {"blocks", [&](const std::string& v) { config.blocks = v; }}});
  TESSERA_CHECK(config.threshold >= 0, "--cache ", method, ": threshold must be >= 0, got ", config.threshold);
  TESSERA_CHECK(config.power_exp > 0, "--cache ", method, ": power must be > 0, got ", config.power_exp);
  return config;
}

}  // namespace

CacheConfig parse_cache_spec(std::string_view spec) {
  const size_t colon = spec.find(':');
  const std::string method(spec.substr(0, colon));
  const std::string options(colon == std::string_view::npos ? std::string_view{} : spec.substr(colon + 1));
  if (method == "fbc" || method == "first_block_cache") {
    FirstBlockCacheConfig config;
    apply(method, options,
          {{"threshold", [&](const std::string& v) { config.threshold = parse_double(method, "threshold", v); }},
           {"blocks", [&](const std::string& v) { config.blocks = v; }}});
    TESSERA_CHECK(config.threshold >= 0, "--cache ", method, ": threshold must be >= 0, got ", config.threshold);
    return config;
  }
  if (method == "teacache") {
    TeaCacheConfig config;
    apply(method, options,
          {{"threshold", [&](const std::string& v) { config.threshold = parse_double(method, "threshold", v); }},
           {"warmup", [&](const std::string& v) { config.warmup_steps = parse_int(method, "warmup", v); }},
           {"indicator",
            [&](const std::string& v) {
              TESSERA_CHECK(v == "timestep_embedding" || v == "modulated_input", "--cache ", method,
                            ": indicator takes timestep_embedding or modulated_input, got \"", v, "\"");
              config.indicator = v == "timestep_embedding" ? TeaCacheIndicator::timestep_embedding
                                                           : TeaCacheIndicator::modulated_input;
            }},
           {"coefficients",
            [&](const std::string& v) {
              if (v == "none") {
                config.coefficients = std::vector<double>{};
              } else if (is_fit_name(v)) {
                config.coefficients = v;  // a fit the model carries, resolved by enable_cache
              } else {
                std::vector<double> values;
                for (const std::string& c : split(v, ';')) values.push_back(parse_double(method, "coefficients", c));
                config.coefficients = std::move(values);
              }
            }},
           {"blocks", [&](const std::string& v) { config.blocks = v; }}});
    TESSERA_CHECK(config.threshold >= 0, "--cache ", method, ": threshold must be >= 0, got ", config.threshold);
    TESSERA_CHECK(config.warmup_steps >= 0, "--cache ", method, ": warmup must be >= 0, got ", config.warmup_steps);
    return config;
  }
  if (method == "taylorseer") {
    TaylorSeerConfig config;
    apply(method, options,
          {{"order", [&](const std::string& v) { config.order = parse_int(method, "order", v); }},
           {"interval", [&](const std::string& v) { config.interval = parse_int(method, "interval", v); }},
           {"warmup", [&](const std::string& v) { config.warmup_steps = parse_int(method, "warmup", v); }},
           {"stop_after", [&](const std::string& v) { config.stop_after_step = parse_int(method, "stop_after", v); }},
           {"forecast",
            [&](const std::string& v) {
              TESSERA_CHECK(v == "residual" || v == "output", "--cache ", method,
                            ": forecast takes residual or output, got \"", v, "\"");
              config.forecast_residual = v == "residual";
            }},
           {"blocks", [&](const std::string& v) { config.blocks = v; }}});
    TESSERA_CHECK(config.order >= 0, "--cache ", method, ": order must be >= 0, got ", config.order);
    TESSERA_CHECK(config.interval >= 1, "--cache ", method, ": interval must be >= 1, got ", config.interval);
    TESSERA_CHECK(config.warmup_steps >= 0, "--cache ", method, ": warmup must be >= 0, got ", config.warmup_steps);
    return config;
  }
  if (method == "dbcache" || method == "db_cache") {
    DBCacheConfig config;
    const auto integer = [&](const char* key, int64_t& field) {
      return Setter([&method, key, &field](const std::string& v) { field = parse_int(method, key, v); });
    };
    apply(method, options,
          {{"fn", integer("fn", config.fn_compute_blocks)},
           {"bn", integer("bn", config.bn_compute_blocks)},
           {"threshold",
            [&](const std::string& v) { config.residual_diff_threshold = parse_double(method, "threshold", v); }},
           {"warmup", integer("warmup", config.max_warmup_steps)},
           {"warmup_interval", integer("warmup_interval", config.warmup_interval)},
           {"max_cached", integer("max_cached", config.max_cached_steps)},
           {"max_continuous", integer("max_continuous", config.max_continuous_cached_steps)},
           {"taylorseer_order", integer("taylorseer_order", config.taylorseer_order)},
           {"blocks", [&](const std::string& v) { config.blocks = v; }}});
    TESSERA_CHECK(config.fn_compute_blocks >= 1, "--cache ", method, ": fn must be >= 1, got ", config.fn_compute_blocks);
    TESSERA_CHECK(config.bn_compute_blocks >= 0, "--cache ", method, ": bn must be >= 0, got ", config.bn_compute_blocks);
    TESSERA_CHECK(config.warmup_interval >= 1, "--cache ", method, ": warmup_interval must be >= 1, got ",
                  config.warmup_interval);
    TESSERA_CHECK(config.taylorseer_order >= 0, "--cache ", method, ": taylorseer_order must be >= 0, got ",
                  config.taylorseer_order);
    return config;
  }
  if (method == "pab" || method == "pyramid_attention_broadcast") {
    PyramidAttentionBroadcastConfig config;
    const auto skip = [&](const char* key, int64_t& field) {
      return Setter([&method, key, &field](const std::string& v) {
        field = parse_int(method, key, v);
        TESSERA_CHECK(field >= 0, "--cache ", method, ": ", key, " must be >= 0 (0: not hooked), got ", field);
      });
    };
    apply(method, options,
          {{"spatial_skip", skip("spatial_skip", config.spatial_attention_block_skip_range)},
           {"temporal_skip", skip("temporal_skip", config.temporal_attention_block_skip_range)},
           {"cross_skip", skip("cross_skip", config.cross_attention_block_skip_range)},
           {"spatial_range", range_setter(method, "spatial_range", config.spatial_attention_timestep_skip_range)},
           {"temporal_range", range_setter(method, "temporal_range", config.temporal_attention_timestep_skip_range)},
           {"cross_range", range_setter(method, "cross_range", config.cross_attention_timestep_skip_range)},
           {"spatial_blocks", identifiers_setter(config.spatial_attention_block_identifiers)},
           {"temporal_blocks", identifiers_setter(config.temporal_attention_block_identifiers)},
           {"cross_blocks", identifiers_setter(config.cross_attention_block_identifiers)}});
    TESSERA_CHECK(config.spatial_attention_block_skip_range > 0 || config.temporal_attention_block_skip_range > 0 ||
                      config.cross_attention_block_skip_range > 0,
                  "--cache ", method, ": set at least one of spatial_skip, temporal_skip, cross_skip > 0, for example ",
                  "pab:spatial_skip=2,cross_skip=6");
    return config;
  }
  if (method == "fastercache" || method == "faster_cache") {
    FasterCacheConfig config;
    const auto skip = [&](const char* key, int64_t& field, int64_t minimum) {
      return Setter([&method, key, &field, minimum](const std::string& v) {
        field = parse_int(method, key, v);
        TESSERA_CHECK(field >= minimum, "--cache ", method, ": ", key, " must be >= ", minimum, ", got ", field);
      });
    };
    const auto number = [&](const char* key, double& field) {
      return Setter([&method, key, &field](const std::string& v) { field = parse_double(method, key, v); });
    };
    apply(method, options,
          {{"spatial_skip", skip("spatial_skip", config.spatial_attention_block_skip_range, 0)},
           {"temporal_skip", skip("temporal_skip", config.temporal_attention_block_skip_range, 0)},
           {"spatial_range", range_setter(method, "spatial_range", config.spatial_attention_timestep_skip_range)},
           {"temporal_range", range_setter(method, "temporal_range", config.temporal_attention_timestep_skip_range)},
           {"low_frequency_range",
            range_setter(method, "low_frequency_range", config.low_frequency_weight_update_timestep_range)},
           {"high_frequency_range",
            range_setter(method, "high_frequency_range", config.high_frequency_weight_update_timestep_range)},
           {"alpha_low", number("alpha_low", config.alpha_low_frequency)},
           {"alpha_high", number("alpha_high", config.alpha_high_frequency)},
           {"uncond_skip", skip("uncond_skip", config.unconditional_batch_skip_range, 1)},
           {"uncond_range", range_setter(method, "uncond_range", config.unconditional_batch_timestep_skip_range)},
           {"attention_weight",
            [&](const std::string& v) {
              const double weight = parse_double(method, "attention_weight", v);
              config.attention_weight_callback = [weight](const std::string&) { return weight; };
            }},
           {"spatial_blocks", identifiers_setter(config.spatial_attention_block_identifiers)},
           {"temporal_blocks", identifiers_setter(config.temporal_attention_block_identifiers)},
           {"tensor_format", [&](const std::string& v) { config.tensor_format = v; }},
           {"distilled", [&](const std::string& v) {
              TESSERA_CHECK(v == "0" || v == "1" || v == "true" || v == "false", "--cache ", method,
                            ": distilled takes true or false, got \"", v, "\"");
              config.is_guidance_distilled = v == "1" || v == "true";
            }}});
    TESSERA_CHECK(config.tensor_format == "BCFHW" || config.tensor_format == "BFCHW" || config.tensor_format == "BCHW",
                  "--cache ", method, ": tensor_format must be BCFHW, BFCHW or BCHW, got \"", config.tensor_format,
                  "\"");
    return config;
  }
  if (method == "magcache" || method == "mag_cache") return parse_mag_cache(method, options);
  if (method == "seacache" || method == "sea_cache") return parse_sea_cache(method, options);
  TESSERA_CHECK(false, "--cache: unknown method \"", method, "\"; known methods: fbc (first_block_cache), teacache, ",
                "taylorseer, pab (pyramid_attention_broadcast), fastercache (faster_cache), magcache, seacache, "
                "dbcache (db_cache)");
  return {};
}

std::string cache_spec_help() {
  return "method[:key=value,...]: fbc:threshold=0.05 | teacache:threshold=0.2,warmup=5,coefficients=a;b;c|none|<a fit the "
         "model carries, by name; default: its own>,"
         "indicator=timestep_embedding|modulated_input | "
         "taylorseer:order=1,interval=5,warmup=3,stop_after=-1,forecast=residual|output | "
         "dbcache:fn=8,bn=0,threshold=0.08,warmup=8,warmup_interval=1,max_cached=-1,max_continuous=-1,"
         "taylorseer_order=0 (cache-dit's DBCache: fn first and bn last blocks always run; -1: no limit; "
         "taylorseer_order > 0 forecasts the cached residual) (these four also take blocks=<pattern>) | "
         "pab:spatial_skip=2,cross_skip=6,spatial_range=100-800,cross_range=100-800 (also temporal_skip, "
         "temporal_range, and {spatial,temporal,cross}_blocks=<identifier>;<identifier>) | "
         "fastercache:spatial_skip=2,spatial_range=-1-681,uncond_skip=5,uncond_range=-1-641,alpha_low=1.1,"
         "alpha_high=1.1,low_frequency_range=99-901,high_frequency_range=-1-301,attention_weight=0.5 (also "
         "temporal_skip, temporal_range, spatial_blocks/temporal_blocks=<regex>;<regex>, tensor_format=BCFHW, "
         "distilled=false; needs the CFG batch [uncond, cond] in one forward) | "
         "magcache:threshold=0.06,max_skip=3,retention=0.2,steps=<0: the generation's>,ratios=<the model's own; "
         "a name it carries, a;b;... or a calibration FILE.json>,calibrate=false | "
         "seacache:threshold=0.25,order=1,retention=1,end=1,max_cached=2,power=3 (both also take blocks=<pattern>)";
}

}  // namespace tessera
