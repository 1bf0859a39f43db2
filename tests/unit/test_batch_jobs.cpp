// Batch bookkeeping: the jobs file, results.jsonl and what counts as done (src/pipelines/batch_jobs).
#include <gtest/gtest.h>

#include <fstream>

#include "src/pipelines/batch_jobs.h"
#include "tests/unit/scratch_dir.h"

namespace tessera {
namespace {

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(BatchJobs, ReadsJobsWithDefaultsAndRecordsMalformedLinesByNumber) {
  testing::ScratchDir dir;
  write(dir.file("jobs.jsonl"),
        "{\"prompt\": \"red circle top left\", \"id\": \"first\", \"steps\": 3}\n"
        "\n"
        "{\"prompt\": \"blue square center\", \"seed\": 5, \"frames\": 2, \"format\": \"mp4\", \"cache\": \"none\"}\n"
        "not json\n"
        "{\"prompt\": \"x\", \"colour\": 1}\n"
        "{\"prompt\": \"y\", \"id\": \"first\"}\n"
        "{\"id\": \"no-prompt\"}\n"
        "{\"prompt\": \"z\", \"id\": \"../escape\"}\n"
        "{\"prompt\": \"z\", \"steps\": \"many\"}\n");
  GenerationRequest defaults;
  defaults.seed = 11;
  defaults.steps = 9;
  const auto jobs = read_batch_jobs(dir.file("jobs.jsonl"), defaults, std::string("fbc"), "png");
  ASSERT_EQ(jobs.size(), 8u);
  EXPECT_EQ(jobs[0].id, "first");
  EXPECT_EQ(*jobs[0].request.steps, 3);
  EXPECT_EQ(jobs[0].request.seed, 11u);
  EXPECT_EQ(*jobs[0].cache, "fbc");
  EXPECT_EQ(jobs[0].format, "png");
  EXPECT_TRUE(jobs[0].error.empty());
  EXPECT_EQ(jobs[1].id, "line-3");
  EXPECT_EQ(jobs[1].line, 3);
  EXPECT_EQ(jobs[1].request.seed, 5u);
  EXPECT_EQ(*jobs[1].request.steps, 9);
  EXPECT_EQ(*jobs[1].request.frames, 2);
  EXPECT_FALSE(jobs[1].cache.has_value());
  EXPECT_EQ(jobs[1].format, "mp4");
  EXPECT_NE(jobs[2].error.find("line 4: not valid JSON"), std::string::npos) << jobs[2].error;
  EXPECT_NE(jobs[3].error.find("unknown field \"colour\""), std::string::npos) << jobs[3].error;
  EXPECT_NE(jobs[4].error.find("used by an earlier line"), std::string::npos) << jobs[4].error;
  EXPECT_NE(jobs[5].error.find("no \"prompt\""), std::string::npos) << jobs[5].error;
  EXPECT_NE(jobs[6].error.find("not a safe file name"), std::string::npos) << jobs[6].error;
  EXPECT_NE(jobs[7].error.find("\"steps\" must be an integer from 1 to 2147483647, got string \"many\""),
            std::string::npos)
      << jobs[7].error;
}

// "loras": a job's own LoRA set (an empty list: none); left out, the batch's.
TEST(BatchJobs, ReadsEachJobsLoras) {
  testing::ScratchDir dir;
  write(dir.file("jobs.jsonl"),
        "{\"prompt\": \"a\", \"loras\": [\"x.safetensors:0.5\", \"y.safetensors\"]}\n"
        "{\"prompt\": \"b\", \"loras\": []}\n"
        "{\"prompt\": \"c\"}\n"
        "{\"prompt\": \"d\", \"loras\": \"x.safetensors\"}\n"
        "{\"prompt\": \"e\", \"loras\": [\"x.safetensors:inf\"]}\n");
  const auto jobs = read_batch_jobs(dir.file("jobs.jsonl"), {}, std::nullopt, "png");
  ASSERT_EQ(jobs.size(), 5u);
  ASSERT_TRUE(jobs[0].loras.has_value()) << jobs[0].error;
  const std::vector<lora::LoraSpec> expected = {{"x.safetensors", 0.5}, {"y.safetensors", 1.0}};
  EXPECT_EQ(*jobs[0].loras, expected);
  ASSERT_TRUE(jobs[1].loras.has_value()) << jobs[1].error;
  EXPECT_TRUE(jobs[1].loras->empty());
  EXPECT_FALSE(jobs[2].loras.has_value());
  EXPECT_NE(jobs[3].error.find("\"loras\" must be a list of \"PATH[:SCALE]\" strings"), std::string::npos)
      << jobs[3].error;
  EXPECT_NE(jobs[4].error.find("must be a finite number"), std::string::npos) << jobs[4].error;
}

// Numbers in a job line are range-checked before narrowing: 1e10 steps used to wrap into a plausible int.
TEST(BatchJobs, OutOfRangeNumbersAreRecordedNotWrapped) {
  testing::ScratchDir dir;
  write(dir.file("jobs.jsonl"),
        "{\"prompt\": \"a\", \"steps\": 10000000000}\n"
        "{\"prompt\": \"b\", \"seed\": -1}\n"
        "{\"prompt\": \"c\", \"frames\": 2.5}\n"
        "{\"prompt\": \"d\", \"height\": 64.0}\n");
  const auto jobs = read_batch_jobs(dir.file("jobs.jsonl"), {}, std::nullopt, "png");
  ASSERT_EQ(jobs.size(), 4u);
  EXPECT_NE(jobs[0].error.find("\"steps\" must be an integer from 1 to 2147483647, got 10000000000"),
            std::string::npos)
      << jobs[0].error;
  EXPECT_NE(jobs[1].error.find("\"seed\" must be an integer from 0"), std::string::npos) << jobs[1].error;
  EXPECT_NE(jobs[2].error.find("\"frames\" must be an integer"), std::string::npos) << jobs[2].error;
  EXPECT_TRUE(jobs[3].error.empty()) << jobs[3].error;
  EXPECT_EQ(*jobs[3].request.height, 64);
}

TEST(BatchJobs, ResultsKeepTheLastLineOfEachIdAndIgnoreATornLine) {
  testing::ScratchDir dir;
  const std::string path = dir.file("results.jsonl");
  append_batch_results(path, BatchResult{"a", 1, "error", 0.5, "", "boom"}.to_json_line());
  append_batch_results(path, BatchResult{"a", 1, "ok", 1.5, dir.file("a.png"), ""}.to_json_line() +
                                 BatchResult{"b", 2, "ok", 2.0, dir.file("b.png"), "", /*group=*/1}.to_json_line());
  std::ofstream(path, std::ios::app) << "{\"id\": \"c\", \"sta";  // killed mid-write
  const auto results = read_batch_results(path);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results.at("a").status, "ok");
  EXPECT_DOUBLE_EQ(results.at("a").seconds, 1.5);
  EXPECT_EQ(results.at("b").line, 2);
  EXPECT_EQ(results.at("b").group, 1);   // the data-parallel group that ran it
  EXPECT_EQ(results.at("a").group, -1);  // none written

  BatchJob a, b, c;
  a.id = "a";
  b.id = "b";
  c.id = "c";
  write(dir.file("a.png"), "x");
  EXPECT_TRUE(batch_job_done(a, results, dir.path()));
  EXPECT_FALSE(batch_job_done(b, results, dir.path()));  // said ok, but its output is gone
  EXPECT_FALSE(batch_job_done(c, results, dir.path()));
  EXPECT_EQ(batch_output_path(dir.path(), a), dir.file("a.png"));
}

TEST(BatchJobs, RemovesOnlyStaleTemporaries) {
  testing::ScratchDir dir;
  write(dir.file("a.png"), "x");
  write(dir.file("b.png.tmp.1234"), "partial");
  write(dir.file(".c.mp4.tmp.99"), "partial");
  EXPECT_EQ(remove_stale_temporaries(dir.path()), 2);
  EXPECT_TRUE(std::ifstream(dir.file("a.png")).good());
  EXPECT_FALSE(std::ifstream(dir.file("b.png.tmp.1234")).good());
}

}  // namespace
}  // namespace tessera
