#include "common/file_util.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "test_util.h"

namespace embedrec {
namespace {

class FileUtilTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("file-util-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const char* name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

TEST_F(FileUtilTest, ReadWholeFileReadsWhatWasWritten) {
  std::string data(3 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 % 251);
  ASSERT_OK(WriteFileAtomically(Path("big"), data, 0600));
  auto got = ReadWholeFile(Path("big"));
  ASSERT_OK(got);
  EXPECT_EQ(*got, data);
  ASSERT_OK(WriteFileAtomically(Path("empty"), "", 0600));
  auto empty = ReadWholeFile(Path("empty"));
  ASSERT_OK(empty);
  EXPECT_TRUE(empty->empty());
}

TEST_F(FileUtilTest, ReadWholeFileTellsAMissingFileFromOtherErrors) {
  EXPECT_EQ(ReadWholeFile(Path("missing")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ReadWholeFile(dir_.string()).status().code(), StatusCode::kInternal);  // a directory
}

TEST_F(FileUtilTest, DirectoryBytesAddsUpEveryFileBelow) {
  ASSERT_TRUE(WriteFileAtomically(Path("a"), std::string(100, 'x'), 0600).ok());
  std::filesystem::create_directories(dir_ / "sub");
  ASSERT_TRUE(WriteFileAtomically((dir_ / "sub" / "b").string(), std::string(23, 'y'), 0600).ok());
  EXPECT_EQ(DirectoryBytes(dir_.string()), 123);
  EXPECT_EQ(DirectoryBytes(Path("missing")), 0);
}

}  // namespace
}  // namespace embedrec
