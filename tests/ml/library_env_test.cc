// The numeric libraries' settings: OpenBLAS's kernels named, and the choices
// the environment made kept (the re-execution itself is tested end to end:
// tests/e2e/test_server.py).
#include "ml/library_env.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "ml/blas_kernels.h"

namespace embedrec::ml {
namespace {

TEST(LibraryEnvTest, NamesTheKernelsAndKeepsTheChoicesTheEnvironmentMade) {
  EXPECT_FALSE(BlasCoreName().empty());
  const char* names[] = {"OPENBLAS_CORETYPE", "GOMP_SPINCOUNT"};
  std::string saved[2];
  bool had[2];
  for (int i = 0; i < 2; ++i) {
    const char* v = std::getenv(names[i]);
    had[i] = v != nullptr;
    saved[i] = v ? v : "";
  }
  ASSERT_EQ(setenv("OPENBLAS_CORETYPE", "Prescott", 1), 0);
  ASSERT_EQ(setenv("GOMP_SPINCOUNT", "123", 1), 0);
  char name[] = "unit_tests";
  char* argv[] = {name, nullptr};
  SetLibraryEnvironment(argv, /*server=*/true);  // returns: chosen already (an exec would end this test)
  EXPECT_STREQ(std::getenv("OPENBLAS_CORETYPE"), "Prescott");
  EXPECT_STREQ(std::getenv("GOMP_SPINCOUNT"), "123");
  for (int i = 0; i < 2; ++i) {
    if (had[i]) setenv(names[i], saved[i].c_str(), 1);
    else unsetenv(names[i]);
  }
}

}  // namespace
}  // namespace embedrec::ml
