// Peak resident memory of loading a model directory: `tessera_load_memory DIR [fp32|bf16|fp16]` prints one JSON
// line (benchmarks/results/load_memory_cpu.json records the figures; benchmarks/make_large_checkpoint.py makes a
// checkpoint large enough to show them).
#include <ATen/ATen.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <string>

#include "src/models/load_model.h"

namespace {

// A /proc/self/status field in bytes (VmRSS: now, VmHWM: the peak so far).
int64_t status_bytes(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1)) * 1024;
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::cerr << "usage: tessera_load_memory MODEL_DIR [fp32|bf16|fp16]\n";
    return 2;
  }
  const std::string dtype_name = argc == 3 ? argv[2] : "fp32";
  const int64_t before = status_bytes("VmHWM");
  const auto start = std::chrono::steady_clock::now();
  const auto model = tessera::load_model(argv[1], tessera::parse_dtype(dtype_name), c10::Device(c10::kCPU));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  int64_t weight_bytes = 0;
  for (const auto& parameter : model->parameters()) weight_bytes += parameter.nbytes();
  std::cout << "{\"model\": \"" << argv[1] << "\", \"dtype\": \"" << dtype_name << "\", \"weight_bytes\": " << weight_bytes
            << ", \"peak_rss_before_load\": " << before << ", \"peak_rss\": " << status_bytes("VmHWM")
            << ", \"peak_rss_increase\": " << status_bytes("VmHWM") - before
            << ", \"rss_after_load\": " << status_bytes("VmRSS") << ", \"load_seconds\": " << seconds << "}" << std::endl;
  return 0;
}
