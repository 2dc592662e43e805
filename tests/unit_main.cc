// The unit tests' main: OpenBLAS's kernels for this CPU first, as embedrec
// itself takes them (ml/blas_kernels.h), so that what BLAS-heavy tests time
// and exercise is what the server runs; then GoogleTest.
#include <gtest/gtest.h>

#include "ml/blas_kernels.h"

int main(int argc, char** argv) {
  embedrec::ml::UseThisCpusBlasKernels(argv);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
