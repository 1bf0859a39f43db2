// The check that an output file can be created, run before any work (common/writable_file.h).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/writable_file.h"
#include "tests/unit/error_message.h"
#include "tests/unit/scratch_dir.h"

namespace tessera {
namespace {

TEST(WritableFile, ParentDirectory) {
  EXPECT_EQ(parent_directory("out.json"), ".");
  EXPECT_EQ(parent_directory("/out.json"), "/");
  EXPECT_EQ(parent_directory("a/b/out.json"), "a/b");
}

TEST(WritableFile, RefusesMissingDirectoriesAndDirectoriesSayingWhatToDo) {
  testing::ScratchDir dir("tessera_writable");
  EXPECT_NO_THROW(check_writable_file(dir.file("stats.json")));
  const std::string missing = message_of([&] { check_writable_file(dir.file("absent/stats.json")); });
  EXPECT_TRUE(has(missing, "cannot write " + dir.file("absent/stats.json") + ": directory " + dir.file("absent") +
                               " does not exist; create it first (mkdir -p"))
      << missing;
  EXPECT_TRUE(has(message_of([&] { check_writable_file(dir.path()); }), "it is a directory"));
  EXPECT_TRUE(has(message_of([] { check_writable_file(""); }), "empty"));
  // The probe file is removed again.
  struct stat status {};
  EXPECT_NE(::stat(dir.file("stats.json").c_str(), &status), 0);
}

}  // namespace
}  // namespace tessera
