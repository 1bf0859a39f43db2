#pragma once
// Batch generation bookkeeping: the jobs file (JSONL, one generation request a line) and the results file
// (results.jsonl, one line per finished job), which together make a batch resumable: a job whose output
// exists and whose last result line says "ok" is never redone.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "src/models/lora/lora_spec.h"
#include "src/pipelines/generation_request.h"

namespace tessera {

struct BatchJob {
  int64_t line = 0;  // 1-based line of the jobs file
  std::string id;    // "id" of the line, else "line-<n>"
  GenerationRequest request;
  std::optional<std::string> cache;  // a --cache spec; "none" turns a batch-wide cache off
  std::string format = "png";        // output file extension
  std::optional<std::vector<lora::LoraSpec>> loras;  // the job's own LoRAs ([] for none); nullopt: the batch's
  std::string error;                 // why the line is not a valid job (then it is recorded as failed)
};

// Fields a job line may have: prompt (required), id, negative_prompt, steps, guidance_scale, guidance_scale_2,
// seed, height, width, frames, image, last_image (paths relative to where the batch runs, as loras), cache, format, loras
// (a list of "PATH[:SCALE]"). What a line leaves out comes from
// `defaults` (the batch's flags). Blank lines are skipped; a malformed line becomes a job with `error` set. Throws
// only when the file cannot be read.
std::vector<BatchJob> read_batch_jobs(const std::string& path, const GenerationRequest& defaults,
                                      const std::optional<std::string>& default_cache, const std::string& default_format);

struct BatchResult {
  std::string id;
  int64_t line = 0;
  std::string status;  // "ok" or "error"
  double seconds = 0;
  std::string output;  // the output file (ok only)
  std::string error;   // the message (error only)
  int group = -1;      // the data-parallel group that ran it (-1: none, as for a line that is no job)

  std::string to_json_line() const;  // one line, newline-terminated
};

// The results in `text` (lines of results.jsonl), in order; unparsable lines are skipped.
std::vector<BatchResult> parse_batch_results(const std::string& text);

// The last result of every id in `path` (missing file: none). A torn last line, left by a kill in the middle
// of a write, is ignored.
std::map<std::string, BatchResult> read_batch_results(const std::string& path);

// Appends `lines` with one write and flushes them to disk before returning, so that a killed batch keeps every
// result it reported.
void append_batch_results(const std::string& path, const std::string& lines);

// DIR/<id>.<format>. Ids are checked to be safe file names when the jobs are read.
std::string batch_output_path(const std::string& out_dir, const BatchJob& job);

// Whether `job` is finished: its last result says ok and its output file exists.
bool batch_job_done(const BatchJob& job, const std::map<std::string, BatchResult>& results, const std::string& out_dir);

// Removes the temporary files a killed run left in `out_dir` (the atomic writers name them "<file>.tmp.<pid>").
int remove_stale_temporaries(const std::string& out_dir);

}  // namespace tessera
