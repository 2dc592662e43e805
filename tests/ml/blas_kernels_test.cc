// OpenBLAS's kernels: named, and a choice the environment made is kept (the
// re-execution itself is tested end to end: tests/e2e/test_server.py).
#include "ml/blas_kernels.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace embedrec::ml {
namespace {

TEST(BlasKernelsTest, NamesTheKernelsAndKeepsAChoiceTheEnvironmentMade) {
  EXPECT_FALSE(BlasCoreName().empty());
  const char* before = std::getenv("OPENBLAS_CORETYPE");
  const std::string saved = before ? before : "";
  ASSERT_EQ(setenv("OPENBLAS_CORETYPE", "Prescott", 1), 0);
  char name[] = "unit_tests";
  char* argv[] = {name, nullptr};
  UseThisCpusBlasKernels(argv);  // returns: chosen already (an exec would end this test)
  EXPECT_STREQ(std::getenv("OPENBLAS_CORETYPE"), "Prescott");
  if (before) setenv("OPENBLAS_CORETYPE", saved.c_str(), 1); else unsetenv("OPENBLAS_CORETYPE");
}

}  // namespace
}  // namespace embedrec::ml
