#pragma once
// The tessera subcommands. Each parses its own options (cli_options.h) and returns the exit status.
namespace tessera {

class MpiRuntime;

int run_batch(int argc, char** argv, MpiRuntime& runtime);
int run_bench(int argc, char** argv, MpiRuntime& runtime);
int run_calibrate_magcache(int argc, char** argv, MpiRuntime& runtime);
int run_denoise(int argc, char** argv, MpiRuntime& runtime);
int run_describe(int argc, char** argv, MpiRuntime& runtime);
int run_forward(int argc, char** argv, MpiRuntime& runtime);
int run_generate(int argc, char** argv, MpiRuntime& runtime);
int run_info(int argc, char** argv, MpiRuntime& runtime);
int run_train(int argc, char** argv, MpiRuntime& runtime);

}  // namespace tessera
