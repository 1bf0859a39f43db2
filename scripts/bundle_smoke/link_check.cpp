// The device bundle's C++ libraries link and load with this machine's compiler and C++ runtime: one call into
// each library the build uses (scripts/gpu_check.sh, phase bundle), seconds before a build of minutes would
// find out.
#include <benchmark/benchmark.h>
#include <gtest/gtest.h>
#include <png.h>
#include <sentencepiece_processor.h>
#include <spdlog/spdlog.h>
#include <unicode/uchar.h>
#include <unicode/uversion.h>

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  benchmark::Initialize(&argc, argv);
  sentencepiece::SentencePieceProcessor processor;
  cxxopts::Options options("link_check");
  UVersionInfo icu;
  u_getVersion(icu);
  const nlohmann::json found = {{"icu", icu[0]}, {"libpng", png_access_version_number()}, {"toupper_a", u_toupper('a')}};
  spdlog::info("bundled C++ libraries load: {}", found.dump());
  return u_toupper('a') == 'A' ? 0 : 1;
}
