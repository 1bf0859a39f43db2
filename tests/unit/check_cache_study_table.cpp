// check_cache_study_table TABLE.txt SETTING...: exits 0 when the `tessera bench cache` table in TABLE.txt has
// exactly one row per SETTING, in order, after the uncached "none" row, and every number in it is what a
// working study gives: finite times and shares summing to 1, "none" computing everything at an infinite PSNR
// (it is its own reference), and each cache reusing something at a finite PSNR (NaN or inf there means its
// output is broken or it did nothing). A regular expression over the output could not reject a NaN.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Row {
  std::string cache;
  double seconds, speedup, computed, skipped, forecast, psnr_db, max_error;
};

bool parse_row(const std::string& line, Row& row) {
  std::istringstream fields(line);
  std::vector<std::string> texts;
  for (std::string field; fields >> field;) texts.push_back(field);
  if (texts.size() != 8) return false;
  row.cache = texts[0];
  double* numbers[] = {&row.seconds, &row.speedup, &row.computed, &row.skipped,
                       &row.forecast, &row.psnr_db, &row.max_error};
  for (size_t i = 0; i < 7; ++i) {
    char* end = nullptr;
    *numbers[i] = std::strtod(texts[i + 1].c_str(), &end);  // reads "nan", "-nan" and "inf" too
    if (end == texts[i + 1].c_str() || *end != '\0') return false;
  }
  return true;
}

int fail(const std::string& message) {
  std::fprintf(stderr, "cache study table: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s TABLE.txt SETTING...\n", argv[0]);
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) return fail(std::string("cannot open ") + argv[1]);
  std::vector<std::string> lines;
  bool header = false;
  for (std::string line; std::getline(in, line);) {
    if (!header) {
      header = line.rfind("cache ", 0) == 0 && line.find("PSNR_dB") != std::string::npos;
      continue;
    }
    if (line.find_first_not_of(' ') == std::string::npos) break;
    lines.push_back(line);
  }
  if (!header) return fail("no header line (cache ... PSNR_dB ...)");
  std::vector<std::string> expected{"none"};
  for (int i = 2; i < argc; ++i) expected.emplace_back(argv[i]);
  if (lines.size() != expected.size()) {
    return fail(std::to_string(lines.size()) + " rows, expected " + std::to_string(expected.size()));
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    Row row;
    if (!parse_row(lines[i], row)) return fail("row " + std::to_string(i) + " is not 8 fields: '" + lines[i] + "'");
    const std::string where = "row '" + row.cache + "': ";
    if (row.cache != expected[i]) return fail(where + "expected '" + expected[i] + "'");
    for (const double value : {row.seconds, row.speedup, row.computed, row.skipped, row.forecast, row.max_error}) {
      if (!std::isfinite(value) || value < 0) return fail(where + "a time, share or error is not a finite number >= 0");
    }
    if (row.seconds <= 0 || row.speedup <= 0) return fail(where + "no time measured");
    if (std::abs(row.computed + row.skipped + row.forecast - 1.0) > 0.02) return fail(where + "shares do not sum to 1");
    if (i == 0) {
      if (!(std::isinf(row.psnr_db) && row.psnr_db > 0) || row.computed != 1.0 || row.max_error != 0) {
        return fail(where + "the uncached run must compute everything and equal itself (PSNR inf, error 0)");
      }
      continue;
    }
    if (!std::isfinite(row.psnr_db)) return fail(where + "PSNR is not finite: " + std::to_string(row.psnr_db));
    if (row.skipped + row.forecast <= 0) return fail(where + "the cache reused nothing");
  }
  std::printf("cache study table: %zu rows, every PSNR finite\n", lines.size());
  return 0;
}
