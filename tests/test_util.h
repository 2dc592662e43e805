// Helpers shared by the unit tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "common/random.h"
#include "common/status.h"

#define ASSERT_OK(expr)                                        \
  do {                                                         \
    const auto& er_s_ = (expr);                                     \
    ASSERT_TRUE(er_s_.ok()) << er_s_.status().ToString();      \
  } while (0)
#define EXPECT_OK(expr)                                        \
  do {                                                         \
    const auto& er_s_ = (expr);                                     \
    EXPECT_TRUE(er_s_.ok()) << er_s_.status().ToString();      \
  } while (0)

namespace embedrec::testing {

// Polls `done` every 5 ms until it holds (true) or `deadline` passes (false).
template <typename F>
bool Eventually(F done, std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// A fresh temporary directory, removed at destruction.
class TempDir {
 public:
  TempDir() {
    InitCrypto();
    path_ = std::filesystem::temp_directory_path() / ("embedrec-test-" + RandomBase62(10));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string path() const { return path_.string(); }
  std::string Sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace embedrec::testing
