// `tessera batch`: thousands of prompts on a cluster. The world splits into --dp data-parallel groups, each
// running context parallelism; a group takes the next job when it is free (BatchDealer), or with --deal rounds
// the groups take jobs in step; world rank 0 alone appends every result to DIR/results.jsonl; a rerun skips
// what is done.
#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>

#include "common/check.h"
#include "common/env.h"
#include "common/log.h"
#include "launch/cli_options.h"
#include "launch/commands.h"
#include "launch/generation_options.h"
#include "launch/lora_flags.h"
#include "launch/memory_check.h"
#include "launch/parallel_options.h"
#include "launch/progress_bar.h"
#include "parallel/communicator.h"
#include "parallel/complete_degrees.h"
#include "parallel/deadline.h"
#include "parallel/device_mesh.h"
#include "parallel/mpi_runtime.h"
#include "parallel/world_communicator.h"
#include "src/pipelines/pipeline.h"
#include "src/pipelines/pipeline_index.h"
#include "src/pipelines/batch_dealer.h"
#include "src/pipelines/batch_jobs.h"

namespace tessera {
namespace {

constexpr const char* kProgram = "tessera batch";

struct Layout {
  int groups = 1;         // --dp
  int group = 0;          // this rank's group
  int group_size = 1;     // ranks per group
  ParallelConfig config;  // each group's degrees
};

// --dp and the degrees, those not given completed (complete_data_parallel) and logged by rank 0.
Layout data_parallel_layout(const cxxopts::ParseResult& parsed, int world_size, int world_rank,
                            const std::string& model_dir) {
  const DataParallelDegrees degrees = cli::data_parallel_degrees_from_flags(kProgram, parsed, world_size, model_dir);
  Layout layout;
  layout.groups = degrees.dp;
  layout.config = degrees.group.config;
  layout.group_size = layout.config.world_size();
  layout.group = world_rank / layout.group_size;
  if (world_rank == 0 && world_size > 1 && !degrees.chosen.empty()) {
    TESSERA_LOG_INFO("using ", world_size, " rank(s): dp ", layout.groups, " x (ulysses ", layout.config.ulysses,
                     " x ring ", layout.config.ring, " x cfg ", layout.config.cfg, ") (", degrees.chosen, ")");
  }
  return layout;
}

// What every job of the batch shares.
struct JobContext {
  GenerationSession& session;
  cli::BatchLoras& loras;
  const std::string& out_dir;
  const io::FrameWriteOptions& write_options;
  int group = 0;
  bool group_leader = false;
};

// One job on this rank's group; the result is meaningful on the group's rank 0 (which wrote the output).
// `on_step` runs after each denoising step (where rank 0 answers the other groups).
BatchResult run_job(const JobContext& context, const BatchJob& job, const std::function<void()>& on_step) {
  BatchResult result;
  result.id = job.id;
  result.line = job.line;
  result.group = context.group;
  try {
    // Everything here is decided from the job line alone, so every rank of the group fails alike.
    const Generation generation = context.session.pipeline().resolve(job.request);
    context.loras.use(job.loras);
    context.session.use_cache(job.cache);
    const auto generated = context.session.run(generation, [&](const DenoiseProgress&) { on_step(); });
    result.seconds = generated.seconds;
    result.output = batch_output_path(context.out_dir, job);
    if (context.group_leader) {
      io::write_frames(result.output, cli::frames_view(generated.frames), context.write_options);
    }
    result.status = "ok";
  } catch (const Error& error) {
    result.status = "error";
    result.error = error.what();
    result.output.clear();
  }
  return result;
}

// How long a wait between jobs may last: as long as a job, not a dead peer.
double job_patience() { return env::seconds("TESSERA_BATCH_JOB_TIMEOUT_S", 86400.0); }

// Every group leader's result lines, gathered on every rank (only rank 0 uses them).
std::string gather_lines(Communicator& books, const std::string& lines) {
  const at::Tensor local = at::empty({static_cast<int64_t>(lines.size())}, at::kByte);
  if (!lines.empty()) std::memcpy(local.data_ptr<uint8_t>(), lines.data(), lines.size());
  // Groups meet here after each round.
  ScopedCommunicationTimeout patience(job_patience());
  const at::Tensor all = books.all_gather(local, 0);
  return std::string(reinterpret_cast<const char*>(all.data_ptr<uint8_t>()), static_cast<size_t>(all.numel()));
}

// Rank 0's view of the results: appends them to results.jsonl as they arrive and counts them.
class ResultBook {
 public:
  ResultBook(std::string path, int64_t total, bool enabled) : path_(std::move(path)), bar_("job", total, enabled) {}

  void record(const std::string& lines) {
    append_batch_results(path_, lines);
    for (const BatchResult& result : parse_batch_results(lines)) {
      ++finished_;
      if (result.status != "ok") {
        ++failed_;
        TESSERA_LOG_WARN("job ", result.id, " failed: ", result.error);
      }
      bar_.update(finished_, result.seconds);
    }
  }
  void finish() { bar_.finish(); }
  int64_t finished() const { return finished_; }
  int64_t failed() const { return failed_; }

 private:
  std::string path_;
  cli::ProgressBar bar_;
  int64_t finished_ = 0, failed_ = 0;
};

// Job k to group k mod dp; after each round rank 0 gathers the groups' lines, so the groups move in step.
void deal_in_rounds(const JobContext& context, const std::vector<const BatchJob*>& pending, int groups,
                    Communicator& books, ResultBook& book, bool rank0) {
  const auto total = static_cast<int64_t>(pending.size());
  const int64_t rounds = (total + groups - 1) / groups;
  for (int64_t round = 0; round < rounds; ++round) {
    const int64_t index = round * groups + context.group;
    std::string line;
    if (index < total) {
      const BatchResult result = run_job(context, *pending[index], [] {});
      if (context.group_leader) line = result.to_json_line();
    }
    const std::string lines = gather_lines(books, line);
    if (rank0) book.record(lines);
  }
}

// A group takes the next job when it is free; rank 0 records every group's results and answers the other groups
// from a thread while it computes (between its own steps where MPI offers no thread support).
void deal_dynamically(const JobContext& context, const std::vector<const BatchJob*>& pending, int group_size,
                      ResultBook& book) {
  const bool thread = MpiRuntime::any_thread_may_call();
  if (!thread && context.group == 0 && context.group_leader) {
    TESSERA_LOG_INFO("MPI allows no second thread (no MPI_THREAD_MULTIPLE): rank 0 deals between its steps");
  }
  BatchDealer dealer(static_cast<int64_t>(pending.size()), group_size,
                     [&](const std::string& lines) { book.record(lines); }, job_patience(),
                     thread ? BatchDealer::Listening::thread : BatchDealer::Listening::between_steps);
  TESSERA_INTERNAL_ASSERT(dealer.group() == context.group, "the dealer's group ", dealer.group(),
                          " is not the layout's ", context.group);
  std::string finished;
  while (const std::optional<int64_t> index = dealer.next(finished)) {
    const BatchResult result = run_job(context, *pending[*index], [&] { dealer.serve(); });
    finished = context.group_leader ? result.to_json_line() : "";
  }
}

}  // namespace

int run_batch(int argc, char** argv, MpiRuntime& runtime) {
  auto options = cli::make_options(
      "batch", "Generate one output per line of a JSONL jobs file ({\"prompt\": ..., \"id\": ..., and any generate "
               "option as steps, guidance_scale, guidance_scale_2, seed, height, width, frames, image, last_image, negative_prompt, "
               "cache, format, loras}). The world is --dp groups, each running context parallelism (--ulysses x "
               "--ring x --cfg ranks); without --dp, the groups take the ranks the degrees given leave (no degree: "
               "one group per rank), and with --dp, degrees left out fill each group as in generate. The model is "
               "loaded once. Results go to OUT_DIR/results.jsonl, one line per job; rerunning the same command skips "
               "finished jobs. The flags below are the defaults of every job.");
  options.add_options("batch")
      ("jobs", "the JSONL jobs file", cxxopts::value<std::string>())
      ("out-dir", "where outputs (<id>.png / .mp4) and results.jsonl go", cxxopts::value<std::string>())
      ("dp", "data-parallel groups (default: the ranks the degrees given leave; with none, one group per rank)",
       cxxopts::value<int>())
      ("format", "output format of jobs that give none: png or mp4", cxxopts::value<std::string>()->default_value("png"))
      ("deal", "how jobs reach the groups: dynamic (a group takes the next job when it is free) or rounds (job k to "
               "group k mod dp, the groups in step)", cxxopts::value<std::string>()->default_value("dynamic"));
  cli::add_generation_options(options, "batch");
  cli::add_parallel_options(options, "batch", /*cfg=*/true);
  const auto parsed = cli::parse(options, argc, argv, runtime.world_rank() == 0);
  if (!parsed) return 0;
  cli::require(*parsed, kProgram, {"jobs", "out-dir"});
  const auto jobs_path = (*parsed)["jobs"].as<std::string>();
  const auto out_dir = (*parsed)["out-dir"].as<std::string>();
  const auto format = (*parsed)["format"].as<std::string>();
  if (format != "png" && format != "mp4") throw cli::UsageError(std::string(kProgram) + ": --format is png or mp4");
  const auto deal = (*parsed)["deal"].as<std::string>();
  if (deal != "dynamic" && deal != "rounds") {
    throw cli::UsageError(std::string(kProgram) + ": --deal is dynamic or rounds, got " + deal);
  }
  const cli::GenerationFlags flags = cli::read_generation_flags(kProgram, *parsed, /*check_request=*/false);
  const Layout layout = data_parallel_layout(*parsed, runtime.world_size(), runtime.world_rank(), flags.model_dir);
  const std::string backend = cli::backend_from_flags(kProgram, *parsed);
  std::vector<BatchJob> jobs =
      cli::usage_checked(kProgram, [&] { return read_batch_jobs(jobs_path, flags.request, flags.cache_spec, format); });
  // A job's guidance_scale_2 for a folder with one transformer, its image for a text-to-video folder (or none for
  // an image-to-video one), or an image that cannot be read fails that job, before the model is loaded.
  for (BatchJob& job : jobs) {
    if (!job.error.empty() || !is_pipeline_dir(flags.model_dir)) continue;  // a missing folder fails as loading
    try {
      Pipeline::check_folder_request(flags.model_dir, job.request);
    } catch (const Error& error) {
      job.error = error.what();
    }
  }
  cli::usage_checked(kProgram, [&] {
    std::filesystem::create_directories(out_dir);
    io::check_writable_output(out_dir + "/results.png");
  });

  const DeviceBinding binding = cli::configure_rank(kProgram, runtime, *parsed);
  const bool rank0 = runtime.world_rank() == 0;
  const c10::Device device = cli::torch_device(binding);
  const c10::ScalarType dtype = cli::dtype_for_device(flags.dtype, device);
  const std::vector<lora::ScaledLora> loras = lora::read_loras(flags.loras);  // a bad file stops us before loading
  const bool per_job_loras =
      std::any_of(jobs.begin(), jobs.end(), [](const BatchJob& job) { return job.loras.has_value(); });
  cli::check_weights_with_loras(kProgram, flags, per_job_loras);
  if (flags.shard_weights && per_job_loras && flags.lora_mode == cli::LoraMode::fuse) {
    throw cli::UsageError(std::string(kProgram) + ": --shard-weights takes a job's \"loras\" as hooks only (no rank "
                          "holds a whole weight to fuse into); add --lora-mode hooks");
  }
  // encodes_text is each group's leader's, known once the groups are split (below).
  PipelineLoadOptions load_options{
      .idle_expert = cli::idle_expert_for(kProgram, flags, device,
                                          flags.lora_mode == cli::LoraMode::fuse && (!loras.empty() || per_job_loras)),
      .weights = flags.weights,
      .shard_group = nullptr};  // each group's, known once the groups are split (below)
  if (flags.check_memory) {
    // Each job against its group's share, before the model loads: a job that cannot fit fails alone, with what
    // would fit, and the others run.
    const cli::AvailableMemory available = cli::available_memory(binding, runtime);
    for (BatchJob& job : jobs) {
      if (!job.error.empty()) continue;
      MemoryRequest shape = cli::memory_request(
          dtype, layout.config, cli::batched_guidance(flags.guidance_mode, job.cache), load_options, device);
      if (flags.shard_weights) shape.weight_shards = layout.group_size;
      if (const auto refusal = cli::memory_refusal(flags.model_dir, job.request, shape, available)) job.error = *refusal;
    }
  }
  // Bookkeeping goes over MPI on the host, whatever the compute backend.
  const std::shared_ptr<Communicator> books = make_world_communicator("mpi", {});
  const std::string results_path = out_dir + "/results.jsonl";
  if (rank0) {
    const int removed = remove_stale_temporaries(out_dir);
    if (removed > 0) TESSERA_LOG_INFO("removed ", removed, " temporary file(s) an interrupted run left in ", out_dir);
  }
  const auto results = read_batch_results(results_path);
  books->barrier();  // every rank has read the results before rank 0 appends to them

  std::vector<const BatchJob*> pending;
  std::string invalid_lines;
  int64_t already_done = 0;
  for (const BatchJob& job : jobs) {
    if (!job.error.empty()) {
      invalid_lines += BatchResult{job.id, job.line, "error", 0, "", job.error}.to_json_line();
    } else if (batch_job_done(job, results, out_dir)) {
      ++already_done;
    } else {
      pending.push_back(&job);
    }
  }
  if (rank0) append_batch_results(results_path, invalid_lines);
  TESSERA_LOG_INFO(jobs.size(), " job line(s) in ", jobs_path, ": ", already_done, " already done, ", pending.size(),
                   " to run on ", layout.groups, " group(s) of ", layout.group_size, " rank(s)",
                   invalid_lines.empty() ? "" : "; malformed lines recorded as failed");

  const std::shared_ptr<Communicator> compute = make_world_communicator(backend, binding.placement);
  const std::shared_ptr<Communicator> group_world =
      layout.groups == 1 ? compute : compute->split(layout.group, runtime.world_rank(), "data_parallel_" + std::to_string(layout.group));
  auto mesh = std::make_shared<DeviceMesh>(group_world, layout.config);
  const bool group_leader = group_world->rank() == 0;
  load_options.encodes_text = group_leader;  // the group's leader encodes the prompts for its group
  if (flags.shard_weights) load_options.shard_group = group_world;  // one data-parallel group shares one copy
  std::unique_ptr<Pipeline> pipeline = Pipeline::load(flags.model_dir, dtype, device, load_options);
  cli::BatchLoras batch_loras(pipeline->transformer(), flags.loras, loras, flags.lora_mode, per_job_loras, rank0);
  GenerationSession session(std::move(pipeline), mesh, flags.guidance_mode);
  session.use_text_kv_cache(flags.text_kv_cache);

  const JobContext context{session, batch_loras, out_dir, flags.write, layout.group, group_leader};
  ResultBook book(results_path, static_cast<int64_t>(pending.size()), rank0);
  const auto start = std::chrono::steady_clock::now();
  if (deal == "rounds") {
    deal_in_rounds(context, pending, layout.groups, *books, book, rank0);
  } else {
    deal_dynamically(context, pending, layout.group_size, book);
  }
  book.finish();
  const double makespan = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (rank0) {
    TESSERA_LOG_INFO("batch done: ", book.finished() - book.failed(), " ok, ", book.failed(), " failed, ",
                     already_done, " skipped (done before) in ", makespan, " s (", deal, " dealing); results in ",
                     results_path);
  }
  const bool any_invalid = !invalid_lines.empty();
  return (book.failed() > 0 || any_invalid) ? 1 : 0;
}

}  // namespace tessera
