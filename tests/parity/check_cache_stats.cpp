// check_cache_stats STATS.json RANKS [REFERENCE.json]: exits 0 when the --stats-json document lists RANKS ranks,
// every rank took the same actions in the same order (context, step, block, action) as rank 0, at least one
// block was skipped or forecast (else the cache did nothing to compare), and, given REFERENCE (the same run
// at another world size), rank 0 took the reference's rank-0 actions. For end-to-end CLI tests.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>
#include <vector>

namespace {

using nlohmann::json;

json read(const char* path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(std::string("cannot open ") + path);
  return json::parse(in);
}

// One line per record, without the metric (a float whose last bits may differ between world sizes).
std::vector<std::string> actions(const json& rank) {
  std::vector<std::string> lines;
  for (const auto& record : rank.at("records")) {
    // A pipeline's experts each keep their own steps: the model's name tells their records apart.
    const std::string model = record.contains("model") ? record.at("model").get<std::string>() + " " : "";
    lines.push_back(model + record.at("context").get<std::string>() + " step " + std::to_string(record.at("step").get<int>()) +
                    " block " + std::to_string(record.at("block").get<int>()) + " " +
                    record.at("action").get<std::string>());
  }
  return lines;
}

bool same(const std::vector<std::string>& actual, const std::vector<std::string>& expected, const std::string& what) {
  if (actual == expected) return true;
  std::fprintf(stderr, "%s: %zu records against %zu\n", what.c_str(), actual.size(), expected.size());
  for (size_t i = 0; i < std::min(actual.size(), expected.size()); ++i) {
    if (actual[i] != expected[i]) {
      std::fprintf(stderr, "  first difference at record %zu: '%s' against '%s'\n", i, actual[i].c_str(),
                   expected[i].c_str());
      break;
    }
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s STATS.json RANKS [REFERENCE.json]\n", argv[0]);
    return 2;
  }
  try {
    const json document = read(argv[1]);
    const auto& ranks = document.at("ranks");
    const size_t expected_ranks = std::strtoul(argv[2], nullptr, 10);
    if (ranks.size() != expected_ranks) {
      std::fprintf(stderr, "%s lists %zu ranks, expected %zu\n", argv[1], ranks.size(), expected_ranks);
      return 1;
    }
    const auto rank0 = actions(ranks.at(0));
    bool ok = true;
    for (size_t rank = 1; rank < ranks.size(); ++rank) {
      ok = same(actions(ranks.at(rank)), rank0, "rank " + std::to_string(rank) + " against rank 0") && ok;
    }
    size_t reused = 0;
    for (const auto& line : rank0) reused += line.find(" computed") == std::string::npos;
    if (reused == 0) {
      std::fprintf(stderr, "no block was skipped or forecast in %zu records: the cache did nothing\n", rank0.size());
      ok = false;
    }
    if (argc > 3) ok = same(rank0, actions(read(argv[3]).at("ranks").at(0)), "rank 0 against the reference") && ok;
    std::printf("%zu ranks, %zu records each, %zu skipped or forecast: %s\n", ranks.size(), rank0.size(), reused,
                ok ? "consistent" : "INCONSISTENT");
    return ok ? 0 : 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s\n", error.what());
    return 1;
  }
}
