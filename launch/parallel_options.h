#pragma once
// The options every subcommand that runs a model shares: the model directory and dtype, the degrees of
// parallelism and the communication backend, and what they resolve to on this rank (device, mesh, model).
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>
#include <cxxopts.hpp>

#include <memory>
#include <optional>

#include "launch/device_binding.h"
#include "parallel/complete_degrees.h"
#include "parallel/device_mesh.h"

namespace tessera {
class Model;
class MpiRuntime;
}  // namespace tessera

namespace tessera::cli {

// --model, --dtype, --shard-weights.
void add_model_options(cxxopts::Options& options, const std::string& group);
// --ulysses, --ring, --backend, and --cfg when `cfg` (subcommands that run guidance). The degrees have no default
// value: a flag left out is completed by degrees_from_flags.
void add_parallel_options(cxxopts::Options& options, const std::string& group, bool cfg);

// --dtype and --backend, checked: a bad value is a usage error of `program` naming the choices. --dtype auto
// (the default) is nullopt: the device decides (dtype_for_device).
std::optional<c10::ScalarType> dtype_from_flags(const std::string& program, const cxxopts::ParseResult& parsed);
// What was asked for, else bf16 on a CUDA device and fp32 on the CPU.
c10::ScalarType dtype_for_device(std::optional<c10::ScalarType> requested, c10::Device device);
std::string backend_from_flags(const std::string& program, const cxxopts::ParseResult& parsed);

// --ulysses, --ring and --cfg as given; each flag left out is nullopt.
GivenDegrees given_degrees(const cxxopts::ParseResult& parsed);

// The degrees for `ranks` ranks: those the flags give, the rest completed (complete_degrees) from the head count of
// the transformer in `model_dir` (a model directory or a pipeline folder), read only when it is needed. Degrees that
// cannot fill `ranks` are a usage error of `program` naming the fix; a model whose config cannot be read fails as
// loading it would.
CompletedDegrees degrees_from_flags(const std::string& program, const cxxopts::ParseResult& parsed, int ranks,
                                    const std::string& model_dir);
// `tessera batch`'s --dp and degrees for `world` ranks (complete_data_parallel), as degrees_from_flags.
DataParallelDegrees data_parallel_degrees_from_flags(const std::string& program, const cxxopts::ParseResult& parsed,
                                                     int world, const std::string& model_dir);

// The mesh of every rank of the launch, with the degrees of degrees_from_flags (logged by rank 0 when any was
// chosen for more than one rank); an unknown --backend is a usage error of `program`.
std::shared_ptr<DeviceMesh> make_device_mesh(const std::string& program, const cxxopts::ParseResult& parsed,
                                             const MpiRuntime& runtime, const DeviceBinding& binding,
                                             const std::string& model_dir);

c10::Device torch_device(const DeviceBinding& binding);
// The --model directory in `dtype` on `device`, with a log line saying what was loaded and how long it took; with
// --shard-weights, each rank of the mesh's world loads only its share (every rank of it must call this).
std::shared_ptr<Model> load_model(const cxxopts::ParseResult& parsed, c10::ScalarType dtype, c10::Device device,
                                  const std::shared_ptr<DeviceMesh>& mesh);

}  // namespace tessera::cli
