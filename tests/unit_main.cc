// The unit tests' main: the numeric libraries' settings first (OpenBLAS's
// kernels for this CPU, OpenMP's spin), as embedrec itself takes them
// (ml/library_env.h), so that what BLAS-heavy tests time and exercise is what
// the server runs; then GoogleTest.
#include <gtest/gtest.h>

#include "ml/library_env.h"

int main(int argc, char** argv) {
  embedrec::ml::SetLibraryEnvironment(argv, /*server=*/true);  // the service's tests run jobs as the server does
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
