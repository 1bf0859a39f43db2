// check_scaling_json RESULTS.json SEQUENCES POINTS: exits 0 when the `tessera bench scaling` results hold exactly
// the points POINTS ("none:1 ulysses:2 usp:4 ring:2:sharded ...", space-separated strategy:ranks, with ":sharded"
// for a point whose weights were sharded) at each latent of SEQUENCES ("2x8x8 3x6x10"), and every point is what a
// correct run gives: the guided prediction within 1e-5 of the one-rank prediction on every rank, every rank's bytes
// equal to the formula's (and the bench's own per-operation comparison true), positive finite times, a speedup of 1
// at one rank with whole weights, a peak memory per rank. A sharded point besides: its weight gathers' bytes equal
// the formula's on every rank (none at one rank), what the ranks send in them sums to what they receive, and its
// prediction equals the same strategy's whole-weights prediction exactly on every rank (error 0 against it, and the
// same error against one rank). Prints "PASS: N points" on success, the first failure otherwise.
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr double kMaxRelativeError = 1e-5;

std::vector<std::string> words(const std::string& text) {
  std::istringstream stream(text);
  std::vector<std::string> result;
  for (std::string word; stream >> word;) result.push_back(word);
  return result;
}

std::string latent_text(const nlohmann::json& latent) {
  return std::to_string(latent[0].get<int64_t>()) + "x" + std::to_string(latent[1].get<int64_t>()) + "x" +
         std::to_string(latent[2].get<int64_t>());
}

int fail(const std::string& message) {
  std::fprintf(stderr, "scaling results: %s\n", message.c_str());
  return 1;
}

bool positive_finite(const nlohmann::json& value) {
  return value.is_number() && std::isfinite(value.get<double>()) && value.get<double>() > 0;
}

// The first thing wrong with one point, or "". `measured_steps`: rounds x repeat (0: not recorded).
std::string check_point(const nlohmann::json& point, int64_t measured_steps) {
  const int ranks = point.at("ranks").get<int>();
  if (measured_steps > 0 && static_cast<int64_t>(point.at("step_seconds").size()) != measured_steps) {
    return "step_seconds holds " + std::to_string(point.at("step_seconds").size()) + " steps instead of rounds x "
           "repeat = " + std::to_string(measured_steps);
  }
  for (const char* key : {"forward_s", "step_s", "speedup", "efficiency"}) {
    if (!positive_finite(point.at(key))) return std::string(key) + " is " + point.at(key).dump();
  }
  const bool sharded = point.value("weights_sharding", "none") == "sharded";
  if (ranks == 1 && !sharded && point.at("speedup").get<double>() != 1.0) return "the one-rank point's speedup is not 1";
  const auto& measured = point.at("bytes_per_step_per_rank");
  const auto& formula = point.at("formula_bytes_per_step_per_rank");
  if (static_cast<int>(measured.size()) != ranks || measured != formula) {
    return "bytes per rank " + measured.dump() + " differ from the formula's " + formula.dump();
  }
  if (!point.at("bytes_match").get<bool>()) return "an operation's calls or bytes differ from the formula's";
  if (ranks > 1 && measured[0].get<int64_t>() <= 0) return "no bytes were sent";
  const auto& errors = point.at("relative_error_per_rank");
  if (static_cast<int>(errors.size()) != ranks) return "not every rank reported its error";
  for (const auto& error : errors) {
    if (!error.is_number() || !(error.get<double>() <= kMaxRelativeError)) {
      return "error vs 1 rank " + error.dump() + " above " + std::to_string(kMaxRelativeError);
    }
  }
  for (const auto& peak : point.at("peak_rss_bytes_per_rank")) {
    if (!positive_finite(peak)) return "peak resident memory " + peak.dump();
  }
  // Each rank's step by phase: every rank multiplies matrices (the embeddings, if it holds no token: then it
  // attends to nothing), and the ATen ops, timed inside the step on its one thread, cannot outlast it.
  const auto& phases = point.at("phases_seconds_per_step_per_rank");
  if (static_cast<int>(phases.size()) != ranks) return "not every rank reported its phases";
  for (const auto& phase : phases) {
    if (!positive_finite(phase.at("matmul"))) return "a rank's matmul phase is " + phase.at("matmul").dump();
    const double ops = phase.at("matmul").get<double>() + phase.at("attention").get<double>() +
                       phase.at("other_ops").get<double>();
    const double step = ops + phase.at("waits").get<double>() + phase.at("outside_ops").get<double>();
    if (phase.at("attention").get<double>() < 0 || phase.at("other_ops").get<double>() < 0 ||
        phase.at("waits").get<double>() < 0 || ops > step * 1.01) {
      return "a rank's phases do not fit its step: " + phase.dump();
    }
  }
  // The warm-up computes the prompt's keys and values; measured steps that compute them again do work a
  // generation's loop does not (-1, or no entry: the cache was off).
  const int64_t misses = point.value("text_kv_cache_misses_in_measured_steps", int64_t{-1});
  if (misses > 0) {
    return "the text K/V cache missed " + std::to_string(misses) + " times in the measured steps (their prompt's "
           "keys and values were computed again)";
  }
  if (!sharded) return "";
  const auto& gathered = point.at("gather_bytes_per_step_per_rank");
  const auto& gather_formula = point.at("formula_gather_bytes_per_step_per_rank");
  if (static_cast<int>(gathered.size()) != ranks || gathered != gather_formula) {
    return "weight gather bytes per rank " + gathered.dump() + " differ from the formula's " + gather_formula.dump();
  }
  int64_t sent = 0, received = 0;
  for (const auto& bytes : gathered) sent += bytes.get<int64_t>();
  for (const auto& bytes : point.at("formula_gather_received_bytes_per_step_per_rank")) received += bytes.get<int64_t>();
  if (sent != received) {
    return "the ranks send " + std::to_string(sent) + " bytes in the weight gathers but receive " +
           std::to_string(received);
  }
  if ((ranks > 1) != (sent > 0)) return "weight gathers sent " + std::to_string(sent) + " bytes at " +
                                        std::to_string(ranks) + " rank(s)";
  const auto& versus_whole = point.at("relative_error_vs_whole_per_rank");
  if (static_cast<int>(versus_whole.size()) != ranks) return "not every rank compared with the whole weights";
  for (const auto& error : versus_whole) {
    if (!error.is_number() || error.get<double>() != 0.0) {
      return "sharded prediction differs from the whole-weights one: error " + error.dump();
    }
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) return fail("usage: check_scaling_json RESULTS.json 'SEQUENCE...' 'STRATEGY:RANKS...'");
  std::ifstream file(argv[1]);
  if (!file) return fail(std::string("cannot read ") + argv[1]);
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(file);
  } catch (const std::exception& error) {
    return fail(std::string("not JSON: ") + error.what());
  }
  std::multiset<std::string> expected, found;
  for (const auto& sequence : words(argv[2])) {
    for (const auto& point : words(argv[3])) expected.insert(sequence + " " + point);
  }
  int points = 0;
  const int64_t measured_steps = document.value("rounds", int64_t{0}) * document.value("repeat", int64_t{0});
  std::map<std::string, nlohmann::json> whole_errors;  // by whole-weights point name
  try {
    for (const auto& point : document.at("results")) {
      const std::string whole_name = latent_text(point.at("latent")) + " " +
                                     point.at("strategy").get<std::string>() + ":" +
                                     std::to_string(point.at("ranks").get<int>());
      const bool sharded = point.value("weights_sharding", "none") == "sharded";
      const std::string name = sharded ? whole_name + ":sharded" : whole_name;
      found.insert(name);
      if (const auto problem = check_point(point, measured_steps); !problem.empty()) return fail(name + ": " + problem);
      const auto& errors = point.at("relative_error_per_rank");
      if (!sharded) {
        whole_errors[whole_name] = errors;
      } else if (whole_errors.count(whole_name) && whole_errors[whole_name] != errors) {
        return fail(name + ": error vs 1 rank " + errors.dump() + " differs from the whole-weights point's " +
                    whole_errors[whole_name].dump());
      }
      ++points;
    }
  } catch (const std::exception& error) {
    return fail(std::string("a point lacks a field: ") + error.what());
  }
  if (found != expected) {
    std::string have, want;
    for (const auto& name : found) have += " [" + name + "]";
    for (const auto& name : expected) want += " [" + name + "]";
    return fail("points" + have + " instead of" + want);
  }
  std::printf("PASS: %d points\n", points);
  return 0;
}
